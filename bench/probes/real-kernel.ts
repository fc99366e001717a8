// Child of S7, run inside hack/in-netns.sh (root): real Debian 6.12 kernels in QEMU guests, each set up by the
// real agent with two receivers, the real one and this probe's timing socket (a second netconsole target gets
// every record at the same moment), then panicked with sysrq. For each panic it reports the guest kernel's own
// timestamps (trigger → panic line), when the host heard the panic line, and when a watch of the API server saw
// the KernelPanicEvent and its Remediated condition. Prints one JSON line (RealKernelRun[]) on stdout.
//
//   bash hack/in-netns.sh node bench/probes/real-kernel.ts RUNS
import { createSocket } from "node:dgram";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { GROUP, PLURAL, VERSION, type KernelPanicEvent } from "../../operator/api/kernelpanicevent.ts";
import { parseExtendedHeader } from "../../operator/netconsole/extended.ts";
import { bootAgentGuest, type TierNetwork } from "../../test/harness/guests.ts";
import { startKernelTier } from "../../test/harness/kernel-tier.ts";
import { KERNEL_6_12 } from "../../test/harness/kernels.ts";
import { waitFor } from "../../test/harness/wait.ts";
import { createNodeWithPods } from "../../test/harness/workloads.ts";
import { watchFrom } from "../lib/cluster.ts";

export interface RealKernelRun {
  /** The guest kernel's clock: the sysrq trigger's record to the panic line's (µs apart, as ms). */
  readonly triggerToPanicGuestMs: number;
  /** The host's clock from here on: the go to the guest (it polls every 200 ms) to the panic line heard. */
  readonly goToHeardMs: number;
  readonly heardToRecordedMs: number;
  readonly heardToRemediatedMs: number;
}

interface Heard {
  triggerUs?: number;
  panicUs?: number;
  panicAt?: number;
}

/** A second receiver: when each source's sysrq trigger and panic line arrived, and their kernel timestamps. */
async function timingSocket(net: TierNetwork): Promise<{ port: number; heard: Map<string, Heard>; close(): void }> {
  const heard = new Map<string, Heard>();
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind({ address: net.hostIp, port: 0 }, resolve));
  socket.on("message", (message, from) => {
    const at = performance.now();
    const header = parseExtendedHeader(message);
    if (header === undefined) return;
    const text = message.subarray(header.bodyStart).toString("utf8");
    const entry = heard.get(from.address) ?? {};
    heard.set(from.address, entry);
    if (text.startsWith("sysrq: Trigger a crash")) entry.triggerUs = header.tsUsec;
    if (text.startsWith("Kernel panic - not syncing") && entry.panicAt === undefined) {
      entry.panicUs = header.tsUsec;
      entry.panicAt = at;
    }
  });
  return { port: socket.address().port, heard, close: () => socket.close() };
}

const runs = Number(process.argv[2] ?? 3);
const tier = await startKernelTier();
const timing = await timingSocket(tier.net);
const seen = new Map<string, { recordedAt?: number; remediatedAt?: number }>();
const watch = await watchFrom<KernelPanicEvent>(tier.kc, `/apis/${GROUP}/${VERSION}/${PLURAL}`, {}, (_, kpe, at) => {
  const entry = seen.get(kpe.spec.hostIP) ?? {};
  seen.set(kpe.spec.hostIP, entry);
  entry.recordedAt ??= at;
  if (kpe.status?.conditions?.some((c) => c.type === "Remediated" && c.status === "True")) entry.remediatedAt ??= at;
});
const results: RealKernelRun[] = [];
try {
  for (let i = 0; i < runs; i++) {
    const node = { name: `s7-${i}`, ip: `10.203.0.${100 + i}` };
    const kubelet = await tier.plane.startKubelets(node.name);
    await createNodeWithPods(
      tier.kc,
      { namespace: node.name, nodeName: node.name, ip: node.ip, kubelets: node.name },
      3,
    );
    const guest = bootAgentGuest(tier.net, { kernel: KERNEL_6_12, node, scenario: "sysrq", receiverPort: tier.port }, [
      `${tier.net.hostIp}:${tier.port}`,
      `${tier.net.hostIp}:${timing.port}`,
    ]);
    const setup = await guest.setupDone();
    if (setup.status !== 0)
      throw new Error(
        `the agent failed in the guest (${guest.diagnosis}):\n${readFileSync(join(guest.control, "agent.log"), "utf8")}`,
      );
    await kubelet.stop();
    const goAt = performance.now();
    guest.go();
    await guest.finished();
    const done = await waitFor(() => (seen.get(node.ip)?.remediatedAt === undefined ? undefined : seen.get(node.ip)), {
      what: `${node.name} remediated (${guest.diagnosis})`,
      timeoutMs: 90_000,
    });
    const heard = timing.heard.get(node.ip);
    if (heard?.panicAt === undefined || heard.panicUs === undefined || heard.triggerUs === undefined)
      throw new Error(`the timing socket did not hear ${node.name}'s trigger and panic (${guest.diagnosis})`);
    results.push({
      triggerToPanicGuestMs: (heard.panicUs - heard.triggerUs) / 1000,
      goToHeardMs: heard.panicAt - goAt,
      heardToRecordedMs: done.recordedAt! - heard.panicAt,
      heardToRemediatedMs: done.remediatedAt! - heard.panicAt,
    });
  }
} finally {
  watch.stop();
  timing.close();
  await tier.stop();
}
console.log(JSON.stringify(results));
