// Issue 28's first must-show, end to end: the receiver and the reconciler as the chart starts them (storm guard
// lifted), nodes whose addresses live in a network namespace the test creates. A live node stops answering the
// reconciler for 0.05–3 s (a blackhole route in its namespace drops every reply to the reconciler's address: its
// SYNs get no answer at all) while a panic datagram forged from its address names it: extended mode with a
// sequence number and timestamp picked without seeing the node's stream, and plain mode. Nothing may be touched.
// Then a covered node really dies: its panic continues its stream, and it is remediated on the probe's word.
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { GROUP, PLURAL, VERSION, type KernelPanicEvent } from "../../operator/api/kernelpanicevent.ts";
import { formatSelfTest } from "../../operator/api/selftest.ts";
import { encodeExtended, encodePlain } from "../../operator/netconsole/encode.ts";
import type { Receiver } from "../../operator/receiver/receiver.ts";
import type { Reconciler } from "../../operator/reconciler/reconciler.ts";
import { ControlPlane } from "../harness/controlplane.ts";
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
const BOOT = { live: "5f0c1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2b", doomed: "6a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d" };

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
  let doomedKubelet: ManagedProcess;
  let to: string;
  const ips = { live: "", doomed: "", control1: "127.0.0.180", control2: "127.0.0.181" };
  /** Where each node's stream stands, as its kernel would continue it. */
  const streams = new Map<string, { seq: number; tsUsec: number; atMs: number }>();

  before(async () => {
    plane = await ControlPlane.start({ kwok: true });
    kc = plane.adminKubeConfig();
    link = await hostLink();
    ips.live = await link.add(1);
    ips.doomed = await link.add(2);
    const receiverHost = await link.addHostAddress(250);
    const kubeletPort = await freePort();
    await plane.startKubelets("silent-live", kubeletPort);
    doomedKubelet = await plane.startKubelets("silent-doomed", kubeletPort);
    const nodes = [
      { name: "live", ip: ips.live, kubelets: "silent-live", boot: BOOT.live },
      { name: "doomed", ip: ips.doomed, kubelets: "silent-doomed", boot: BOOT.doomed },
      { name: "control-1", ip: ips.control1, kubelets: "silent-live", boot: "" },
      { name: "control-2", ip: ips.control2, kubelets: "silent-live", boot: "" },
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
    // Each covered node's agent writes its self-test: the receiver anchors the node's stream there.
    for (const [name, ip] of [
      ["live", ips.live],
      ["doomed", ips.doomed],
    ] as const) {
      const stream = { seq: 4000, tsUsec: 86_400e6, atMs: performance.now() };
      await sendFromNamespace(link.namespace, ip, to, record(13, stream.seq, stream.tsUsec, selfTest(name)));
      streams.set(name, stream);
    }
    await waitFor(async () => (await reconciler.metrics.probeBaselineNodes.get()).values[0]?.value === 4, {
      what: "a probe baseline for the four nodes",
      timeoutMs: 30_000,
    });
  });
  after(async () => {
    await reconciler?.stop();
    await receiver?.stop();
    await link?.remove();
    await plane?.stop();
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
      const silence = await link.dropRepliesToHost();
      try {
        await sendFromNamespace(link.namespace, ips.live, to, forged);
        await sleep(silentMs);
      } finally {
        await silence.restore();
      }
      const event = await decided(line);
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
    const stream = streams.get("doomed")!;
    await doomedKubelet.stop();
    const silence = await link.dropRepliesToHost();
    try {
      // The kernel's clock moved as the receiver's did since the self-test; the sequence went on.
      const tsUsec = stream.tsUsec + Math.round((performance.now() - stream.atMs) * 1000);
      await sendFromNamespace(link.namespace, ips.doomed, to, [
        ...record(4, stream.seq + 7, tsUsec, "sysrq: Trigger a crash"),
        ...record(0, stream.seq + 8, tsUsec + 300, "Kernel panic - not syncing: sysrq triggered crash"),
      ]);
      const event = await decided("Kernel panic - not syncing: sysrq triggered crash", ["Remediated"], 30_000);
      assert.equal(event.spec.stream?.continuity, "Continuous", JSON.stringify(event.spec.stream));
      const evidence = condition(event, "Corroborated");
      assert.equal(evidence?.reason, "ProbeSilent", evidence?.message);
      assert.equal(await nodeExists(kc, "doomed"), false);
    } finally {
      await silence.restore();
    }
  });

  /** The event of `firstLine` once the reconciler has decided something about it. */
  async function decided(
    firstLine: string,
    reasons = ["WaitingForLease", "NodeAlive", "InProgress", "Remediated", "NodeNotFound"],
    timeoutMs = 20_000,
  ): Promise<KernelPanicEvent> {
    return waitFor(
      async () => {
        const event = (await listKernelPanicEvents(kc)).find((e) => e.spec.firstLine === firstLine);
        const reason = event === undefined ? undefined : condition(event, "Remediated")?.reason;
        if (event === undefined || reason === undefined || !reasons.includes(reason)) return undefined;
        return (await kc.makeApiClient(CustomObjectsApi).getClusterCustomObject({
          group: GROUP,
          version: VERSION,
          plural: PLURAL,
          name: event.metadata.name,
        })) as KernelPanicEvent;
      },
      { what: `a decision about "${firstLine}" (${reasons.join("|")})`, timeoutMs },
    );
  }
});

function condition(event: KernelPanicEvent, type: string) {
  return event.status?.conditions?.find((c) => c.type === type);
}
