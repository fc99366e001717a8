// What the probe assumes about kernels, on a real one: a running Linux kernel answers a SYN to a closed port with a
// reset, and a kernel that panicked answers nothing at all while its machine is still up (the guest stays up
// after the panic). A Debian kernel in a QEMU guest is the node, its netconsole stream anchored by
// the agent's self-test line (its name and boot id, written to /dev/kmsg as the agent does); the reconciler, probing
// every second, corroborates its panic by the probe beside the stream the panic continued (ProbeSilent) and
// remediates it without the Lease wait. And a dead kernel's stream stops after its report: the guest waits 12 s
// after its panic before it resets, and nothing it sends in that time continues its stream far past the panic
// (panics/continuity.ts: such a record would stamp the Node alive).
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { systemClock } from "../../operator/clock.ts";
import { tcpProbe } from "../../operator/net/tcp-probe.ts";
import { AFTER_PANIC_USEC } from "../../operator/panics/continuity.ts";
import { bootGuest } from "../harness/guests.ts";
import { assertRemediated, eventFrom, startKernelTier, type KernelTier } from "../harness/kernel-tier.ts";
import { KERNEL_6_12 } from "../harness/kernels.ts";
import { listKernelPanicEvents } from "../harness/receiver.ts";
import { waitFor } from "../harness/wait.ts";
import { createNodeWithPods, setNodeBootID } from "../harness/workloads.ts";

/** How long the panicked guest waits before it resets: well past AFTER_PANIC_USEC. */
const PANIC_SECONDS = 12;
/** What the guest's Node says its kubelet listens on: nothing does, so a live guest kernel resets. */
const KUBELET_PORT = 10250;

let tier: KernelTier;

before(async () => {
  // A sweep must end within its interval (see test/integration/probe.test.ts).
  tier = await startKernelTier(["--probe-interval-seconds", "1", "--probe-timeout-ms", "150"]);
});
after(async () => {
  await tier.stop();
});

describe("the probe against a real kernel", () => {
  it("a live kernel resets, a panicked one gives no answer at all, and its panic is corroborated by the probe", async () => {
    const { kc, plane } = tier;
    // A control: another node that answers (loopback resets), so that silence counts.
    await plane.startKubelets("probe-control", KUBELET_PORT);
    await createNodeWithPods(
      kc,
      { namespace: "probe", nodeName: "probe-control", ip: "127.0.0.60", kubelets: "probe-control" },
      0,
    );
    const node = { name: "vm-probe", ip: "10.203.0.40" };
    const kubelet = await plane.startKubelets(node.name, KUBELET_PORT);
    await createNodeWithPods(kc, { namespace: "probe", nodeName: node.name, ip: node.ip, kubelets: node.name }, 3);
    const guest = bootGuest(tier.net, {
      kernel: KERNEL_6_12,
      node,
      scenario: "sysrq",
      setup: { kind: "init", netconsole: { extended: true, release: true, node: node.name, selfTest: true } },
      receiverPort: tier.port,
      hold: true,
      panicSeconds: PANIC_SECONDS,
    });
    try {
      await waitFor(async () => (await tcpProbe(systemClock)(node.ip, KUBELET_PORT, 1000)).outcome === "refused", {
        what: `the guest's kernel to reset a connect to ${node.ip}:${KUBELET_PORT} (${guest.diagnosis})`,
        timeoutMs: 120_000,
      });
      await waitFor(async () => ((await tier.reconciler.metrics.probeBaselineNodes.get()).values[0]?.value ?? 0) >= 2, {
        what: "the reconciler's baseline for the guest and the control",
        timeoutMs: 30_000,
      });
      const bootIdFile = join(guest.control, "boot_id");
      await waitFor(() => existsSync(bootIdFile), {
        what: `the guest's boot id (${guest.diagnosis})`,
        timeoutMs: 30_000,
      });
      await setNodeBootID(kc, node.name, readFileSync(bootIdFile, "utf8").trim());
      await kubelet.stop(); // the guest is the node: its kubelet (kwok, standing in) stops with it
      guest.go();
      const event = await eventFrom(kc, node.ip, guest.diagnosis);
      // The guest has panicked and is still up (it powers off 12 s after the panic): its kernel is silent.
      const afterPanic = await tcpProbe(systemClock)(node.ip, KUBELET_PORT, 300);
      assert.equal(guest.vm.running, true, "the guest was still up while probed: the silence is the kernel's");
      assert.equal(afterPanic.outcome, "silent");
      await assertRemediated(kc, event, node.name);
      const done = (await listKernelPanicEvents(kc)).find((e) => e.metadata.name === event.metadata.name);
      const evidence = done?.status?.conditions?.find((c) => c.type === "Corroborated");
      assert.equal(evidence?.reason, "ProbeSilent", evidence?.message);
      assert.equal(done?.spec.stream?.continuity, "Continuous", JSON.stringify(done?.spec.stream));
      assert.match(evidence?.message ?? "", /continued Node vm-probe's netconsole stream/);
      await guest.finished();
      // The guest sent its last datagram before it reset; the receiver has had its report since.
      const life = (await tier.receiver.metrics.streamAfterPanic.get()).values;
      assert.deepEqual(
        life.filter((v) => v.value > 0).map((v) => `${String(v.labels.result)}=${v.value}`),
        [],
        `records continued the dead kernel's stream ${AFTER_PANIC_USEC / 1e6} s or more after its panic`,
      );
    } finally {
      await guest.vm.stop();
    }
  });
});
