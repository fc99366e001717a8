// Issue 28's first must-show, end to end: the receiver and the reconciler as the chart starts them (storm guard
// lifted), nodes whose addresses live in a network namespace the test creates. A live node stops answering the
// reconciler for 0.05–3 s (a blackhole route in its namespace drops every reply to the reconciler's address: its
// SYNs get no answer at all) while a panic datagram forged from its address names it: extended mode with a
// sequence number and timestamp picked without seeing the node's stream, and plain mode. Nothing may be touched.
// Then a covered node really dies: its panic continues its stream, and it is remediated on the probe's word. A
// node whose kernel goes on after a panic that continued its stream (one on the path forged it) is refused.
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { GROUP, PLURAL, VERSION, type KernelPanicEvent } from "../../operator/api/kernelpanicevent.ts";
import { formatSelfTest } from "../../operator/api/selftest.ts";
import { encodeExtended, encodePlain } from "../../operator/netconsole/encode.ts";
import { AFTER_PANIC_USEC } from "../../operator/panics/continuity.ts";
import type { Receiver } from "../../operator/receiver/main/service.ts";
import type { Reconciler } from "../../operator/reconciler/loop/controller.ts";
import type { ControlPlane } from "../harness/controlplane.ts";
import { privateControlPlane } from "../harness/private-plane.ts";
import { hostLink, sendFromNamespace, skipUnlessNetns, type HostLink } from "../harness/netns.ts";
import { freePort } from "../harness/ports.ts";
import type { ManagedProcess } from "../harness/processes.ts";
import { listKernelPanicEvents, startTestReceiver } from "../harness/receiver.ts";
import { GUARDS_LIFTED, startTestReconciler } from "../harness/reconciler.ts";
import { random } from "../harness/random.ts";
import { waitFor } from "../harness/wait.ts";
import { createNodeWithPods, nodeExists, podsOn, setNodeBootID } from "../harness/workloads.ts";

const skip = await skipUnlessNetns();
const PODS = 3;
const TRIALS = 50;
const BOOT = {
  live: "5f0c1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2b",
  doomed: "6a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d",
  burnt: "7b2c3d4e-5f6a-4b7c-8d8e-9f0a1b2c3d4e",
  byte: "8c3d4e5f-6a7b-4c8d-9e9f-0a1b2c3d4e5f",
  early: "9d4e5f6a-7b8c-4d9e-8f0a-1b2c3d4e5f6a",
  v6: "ae5f6a7b-8c9d-4e0f-9a1b-2c3d4e5f6a7b",
  outlived: "bf6a7b8c-9d0e-4f1a-8b2c-3d4e5f6a7b8c",
};
/**
 * Covered nodes whose kubelet stops, each with its own kwok to kill: all but `outlived` really die (v6's address
 * is IPv6); `outlived`'s kernel goes on after a panic someone on the path forged.
 */
const DOOMED = ["doomed", "burnt", "byte", "early", "v6", "outlived"] as const;

/** A kernel's extended record: `<prio>` and its printk sequence number and timestamp (µs since boot). */
function record(prio: number, seq: number, tsUsec: number, text: string): Buffer[] {
  return encodeExtended([`<${prio}>[${(tsUsec / 1e6).toFixed(6)}] ${text}`], {
    extended: true,
    firstSequence: seq,
  });
}

describe("a live node made silent plus a forged panic, and a covered node's real panic", { skip }, () => {
  let plane: ControlPlane;
  let kc: KubeConfig;
  let link: HostLink;
  let receiver: Receiver;
  let reconciler: Reconciler;
  const kubelets = new Map<string, ManagedProcess>();
  /** The receiver with a budget wide open (every forged panic meets the probe), and one with the defaults. */
  let to: string;
  let toDefaults: string;
  /** The same receiver with the defaults, on the host's IPv6 address in the nodes' /64. */
  let toDefaults6: string;
  let budgeted: Receiver;
  const ips: Record<string, string> = { control1: "127.0.0.180", control2: "127.0.0.181" };
  /** Where each node's stream stands, as its kernel would continue it. */
  const streams = new Map<string, { seq: number; tsUsec: number; atMs: number }>();

  const own = privateControlPlane(
    "the chart's settings with the storm guard lifted, over nodes in a network namespace it creates",
    { kwok: true },
  );
  before(async () => {
    plane = await own.ready;
    kc = plane.adminKubeConfig();
    link = await hostLink();
    for (const [i, name] of ["live", ...DOOMED].entries())
      ips[name] = name === "v6" ? await link.add6("18") : await link.add(i + 1);
    // Two live nodes in the v6 node's /64: the shared-/64 forgeries come from their addresses.
    for (const suffix of ["17", "19"]) ips[`v6-${suffix}`] = await link.add6(suffix);
    const receiverHost = await link.addHostAddress(250);
    const receiverHost6 = await link.addHostAddress6("fa");
    const kubeletPort = await freePort();
    await plane.startKubelets("silent-live", kubeletPort);
    for (const name of DOOMED) kubelets.set(name, await plane.startKubelets(`silent-${name}`, kubeletPort));
    const nodes = [
      { name: "live", ip: ips.live!, kubelets: "silent-live", boot: BOOT.live },
      ...DOOMED.map((name) => ({ name, ip: ips[name]!, kubelets: `silent-${name}`, boot: BOOT[name] })),
      { name: "control-1", ip: ips.control1!, kubelets: "silent-live", boot: "" },
      { name: "control-2", ip: ips.control2!, kubelets: "silent-live", boot: "" },
      { name: "v6-17", ip: ips["v6-17"]!, kubelets: "silent-live", boot: "" },
      { name: "v6-19", ip: ips["v6-19"]!, kubelets: "silent-live", boot: "" },
    ];
    for (const n of nodes) {
      await createNodeWithPods(kc, { namespace: "silent", nodeName: n.name, ip: n.ip, kubelets: n.kubelets }, PODS);
      if (n.boot !== "") await setNodeBootID(kc, n.name, n.boot);
    }
    ({ receiver } = await startTestReceiver(kc, [
      "--listen",
      `${receiverHost}:0`,
      // Every forged panic becomes an event, so that every one of them meets the probe.
      "--source-event-budget",
      "1000",
    ]));
    to = `${receiverHost}:${receiver.udpPorts[0]!}`;
    ({ receiver: budgeted } = await startTestReceiver(kc, ["--listen", `${receiverHost}:0,[${receiverHost6}]:0`]));
    toDefaults = `${receiverHost}:${budgeted.udpPorts[0]!}`;
    toDefaults6 = `[${receiverHost6}]:${budgeted.udpPorts[1]!}`;
    reconciler = await startTestReconciler(kc, [
      "--leader-elect",
      "false",
      // Every trial must meet the probe: no cap, and no hold for approval after three refusals.
      ...GUARDS_LIFTED,
      "--probe-interval-seconds",
      "1",
      "--probe-timeout-ms",
      "150",
    ]);
    // Each covered node's agent writes its self-test (to both receivers): its stream is anchored there.
    for (const name of ["live", ...DOOMED] as const) {
      const stream = { seq: 4000, tsUsec: 86_400e6, atMs: performance.now() };
      for (const receiverAt of name === "v6" ? [toDefaults6] : [to, toDefaults])
        await sendFromNamespace(
          link.namespace,
          ips[name]!,
          receiverAt,
          record(13, stream.seq, stream.tsUsec, selfTest(name)),
        );
      streams.set(name, stream);
    }
    await waitFor(async () => (await reconciler.metrics.probeBaselineNodes.get()).values[0]?.value === nodes.length, {
      what: `a probe baseline for the ${nodes.length} nodes`,
      timeoutMs: 30_000,
    });
  });
  after(async () => {
    await reconciler?.stop();
    await receiver?.stop();
    await budgeted?.stop();
    await link?.remove();
    await own.stop();
  });

  function selfTest(name: keyof typeof BOOT): string {
    return formatSelfTest({ node: name, bootId: BOOT[name] });
  }

  it(`${TRIALS} forged panics about a live node silent for 0.05–3 s: no node and no pod touched`, async () => {
    const next = random(2028);
    const names = new Set<string>();
    for (let trial = 0; trial < TRIALS; trial++) {
      const silentMs = 50 + (2950 * trial) / (TRIALS - 1);
      const line = `Kernel panic - not syncing: forged ${trial}`;
      // Extended: any sequence number and any uptime within 30 days; plain: a console line with a timestamp.
      const forged =
        trial % 2 === 0
          ? record(0, Math.floor(next() * 1e6), Math.floor(next() * 30 * 86_400e6), line)
          : encodePlain([`[${(next() * 30 * 86_400).toFixed(6)}] ${line}`]);
      const silence = await link.dropRepliesToHost(ips.live);
      try {
        await sendFromNamespace(link.namespace, ips.live!, to, forged);
        await sleep(silentMs);
      } finally {
        await silence.restore();
      }
      const event = await decided((e) => e.spec.firstLine === line);
      const reason = condition(event, "Remediated")?.reason;
      assert.ok(
        reason === "WaitingForLease" || reason === "NodeAlive",
        `trial ${trial} (${silentMs.toFixed(0)} ms silent): ${reason ?? "?"}: ${condition(event, "Corroborated")?.message ?? ""}`,
      );
      names.add(event.metadata.name);
    }
    assert.equal(names.size, TRIALS);
    // Every event ends refused once the Lease (renewed by the live kubelet) has had its say.
    await waitFor(
      async () => {
        const events = (await listKernelPanicEvents(kc)).filter((e) => names.has(e.metadata.name));
        const reasons = events.map((e) => condition(e, "Remediated")?.reason);
        assert.ok(!reasons.some((r) => r === "InProgress" || r === "Remediated"), `acted on: ${reasons.join(", ")}`);
        return reasons.every((r) => r === "NodeAlive");
      },
      { what: "every forged event refused (NodeAlive)", timeoutMs: 120_000, intervalMs: 500 },
    );
    assert.equal(await nodeExists(kc, "live"), true, "the live node was deleted");
    const running = (await podsOn(kc, "live")).filter(
      (p) => p.status?.phase === "Running" && p.metadata?.deletionTimestamp === undefined,
    );
    assert.equal(running.length, PODS, "the live node's pods were touched");
  });

  it("a covered node's real panic continues its stream and is remediated on the probe's word (ProbeSilent)", async () => {
    await dies("doomed", to, "Kernel panic - not syncing: sysrq triggered crash");
  });

  it("spoofed datagrams do not hide a covered node's real panic: budget burn, a lead byte, an early identical line, the shared /64", async () => {
    const next = random(28);
    const forge = async (name: string, line: string) =>
      sendFromNamespace(
        link.namespace,
        ips[name]!,
        ips[name]!.includes(":") ? toDefaults6 : toDefaults,
        record(0, Math.floor(next() * 1e6), Math.floor(next() * 30 * 86_400e6), line),
      );
    // Budget burn (the receiver with the default budget: 3 per 5 minutes): four forgeries, the real panic, one more.
    for (let i = 0; i < 4; i++) await forge("burnt", `Kernel panic - not syncing: forged ${i}`);
    await dies("burnt", toDefaults, "Kernel panic - not syncing: burnt", async () => {
      await forge("burnt", "Kernel panic - not syncing: forged after");
    });
    // One UTF-8 lead byte from the node's address just before its panic.
    await sendFromNamespace(link.namespace, ips.byte!, toDefaults, [Buffer.from([0xe2])]);
    await dies("byte", toDefaults, "Kernel panic - not syncing: after a lead byte");
    // The identical panic line forged first: the real one is not its repeat.
    const line = "Kernel panic - not syncing: identical";
    await forge("early", line);
    await waitFor(async () => (await listKernelPanicEvents(kc)).some((e) => e.spec.hostIP === ips.early), {
      what: "the early forgery recorded",
    });
    await dies("early", toDefaults, line);
    // The shared /64: three forgeries from live node ::17 and one from live node ::19, then ::18's real panic.
    for (let i = 0; i < 3; i++) await forge("v6-17", `Kernel panic - not syncing: forged ::17 ${i}`);
    await forge("v6-19", "Kernel panic - not syncing: forged ::19");
    await dies("v6", toDefaults6, "Kernel panic - not syncing: in a shared /64");
  });

  it("a node whose kernel goes on after a panic that continued its stream is alive: refused, not remediated", async () => {
    // One on the path sees the stream and forges a panic that continues it, while the kubelet is down (its Lease
    // stops); the probe answers, and only the Lease would be left to overrule that, were the stream not heard.
    const stream = streams.get("outlived")!;
    await kubelets.get("outlived")!.stop();
    const line = "Kernel panic - not syncing: forged by one on the path";
    const kernelTime = () => stream.tsUsec + Math.round((performance.now() - stream.atMs) * 1000);
    await sendFromNamespace(link.namespace, ips.outlived!, to, record(0, stream.seq + 8, kernelTime(), line));
    // The kernel's clock runs on as the receiver's does: a line it logs AFTER_PANIC_USEC later shows it alive.
    await sleep(AFTER_PANIC_USEC / 1000 + 500);
    await sendFromNamespace(link.namespace, ips.outlived!, to, record(6, stream.seq + 9, kernelTime(), "eth0: up"));
    // Final either way: refused on the stream's word, or the stopped Lease overruled the probe's answer.
    const refused = await waitFor(
      async () => {
        const e = (await listKernelPanicEvents(kc)).find((e) => e.spec.firstLine === line);
        const evidence = e === undefined ? undefined : condition(e, "Corroborated")?.reason;
        return evidence === "StreamAfterPanic" || evidence === "LeaseStale" ? e : undefined;
      },
      { what: "a final word on the panic (StreamAfterPanic or LeaseStale)", timeoutMs: 90_000, intervalMs: 500 },
    );
    assert.equal(condition(refused, "Remediated")?.reason, "NodeAlive", condition(refused, "Remediated")?.message);
    assert.equal(condition(refused, "Corroborated")?.reason, "StreamAfterPanic");
    assert.equal(await nodeExists(kc, "outlived"), true, "the node whose kernel went on was deleted");
  });

  /**
   * Node `name` dies: its kubelet stops, its kubelet port goes silent, and its real panic (continuing its stream)
   * is sent to `receiverAt`, then `after` runs; it must be remediated on the probe's word.
   */
  async function dies(name: string, receiverAt: string, line: string, after?: () => Promise<void>): Promise<void> {
    const stream = streams.get(name)!;
    await kubelets.get(name)!.stop();
    const silence = await link.dropRepliesToHost(ips[name]);
    try {
      // The kernel's clock moved as the receiver's did since the self-test; the sequence went on.
      const tsUsec = stream.tsUsec + Math.round((performance.now() - stream.atMs) * 1000);
      await sendFromNamespace(link.namespace, ips[name]!, receiverAt, [
        ...record(4, stream.seq + 7, tsUsec, "sysrq: Trigger a crash"),
        ...record(0, stream.seq + 8, tsUsec + 300, line),
      ]);
      await after?.();
      const event = await decided(
        (e) => e.spec.hostIP === ips[name] && e.spec.firstLine === line && e.spec.stream?.continuity === "Continuous",
        ["Remediated"],
        30_000,
      );
      const evidence = condition(event, "Corroborated");
      assert.equal(evidence?.reason, "ProbeSilent", evidence?.message);
      assert.equal(await nodeExists(kc, name), false);
    } finally {
      await silence.restore();
    }
  }

  /** The event `which` picks once the reconciler has decided something about it. */
  async function decided(
    which: (event: KernelPanicEvent) => boolean,
    reasons = ["WaitingForLease", "NodeAlive", "InProgress", "Remediated", "NodeNotFound"],
    timeoutMs = 20_000,
  ): Promise<KernelPanicEvent> {
    return waitFor(
      async () => {
        const event = (await listKernelPanicEvents(kc)).find(which);
        const reason = event === undefined ? undefined : condition(event, "Remediated")?.reason;
        if (event === undefined || reason === undefined || !reasons.includes(reason)) return undefined;
        return (await kc.makeApiClient(CustomObjectsApi).getClusterCustomObject({
          group: GROUP,
          version: VERSION,
          plural: PLURAL,
          name: event.metadata.name,
        })) as KernelPanicEvent;
      },
      { what: `a decision (${reasons.join("|")})`, timeoutMs },
    );
  }
});

function condition(event: KernelPanicEvent, type: string) {
  return event.status?.conditions?.find((c) => c.type === type);
}
