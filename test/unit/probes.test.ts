// The probe's bookkeeping and verdicts (probes.ts) with a scripted connect and a clock the test moves; and one
// real connect on loopback for each answer tcpProbe can get there (silence needs a namespace: integration).
import assert from "node:assert/strict";
import { createServer, type AddressInfo } from "node:net";
import { describe, it } from "node:test";
import type { V1Node } from "@kubernetes/client-node";
import { systemClock } from "../../operator/clock.ts";
import { tcpProbe, type ProbeOutcome, type ProbeResult } from "../../operator/net/tcp-probe.ts";
import {
  NodeProbes,
  probeTarget,
  type ProbeOptions,
  type ProbeTarget,
} from "../../operator/reconciler/corroboration/node-probes.ts";
import { ManualClock } from "../harness/clock.ts";

const OPTIONS: ProbeOptions = {
  intervalMs: 10_000,
  timeoutMs: 50,
  windowMs: 60,
  attempts: 3,
  controls: 2,
  concurrency: 4,
  maxNodes: 100,
  addressTypes: ["InternalIP"],
};

function target(node: string, zone?: string): ProbeTarget {
  const i = Number(node.replace(/\D/g, "")) || 1;
  return { node, address: `10.0.0.${i}`, port: 10250, ...(zone === undefined ? {} : { zone }) };
}

/** A scripted network: each address gives one outcome; every connect is recorded. Time is the test's clock. */
function network() {
  const outcomes = new Map<string, ProbeResult>();
  const connects: string[] = [];
  const clock = new ManualClock();
  const probe = async (address: string, _port: number, timeoutMs: number) => {
    connects.push(address);
    const result = outcomes.get(address) ?? { outcome: "refused" };
    // Silence lasts the whole timeout, as it does on a real socket.
    if (result.outcome === "silent") await clock.sleep(timeoutMs);
    return result;
  };
  return {
    clock,
    outcomes,
    connects,
    set: (address: string, outcome: ProbeOutcome, code?: string) =>
      outcomes.set(address, { outcome, ...(code === undefined ? {} : { code }) }),
    probes: (options: Partial<ProbeOptions> = {}) => new NodeProbes({ ...OPTIONS, ...options }, { probe, clock }),
    /** Runs the probes' work to its end, the clock moving from one of its waits to the next. */
    run: <T>(work: Promise<T>) => clock.run(work),
    advance: (ms: number) => clock.advance(ms),
  };
}

async function baseline(net: ReturnType<typeof network>, probes: NodeProbes, targets: ProbeTarget[]): Promise<void> {
  await net.run(probes.sweep(targets));
}

describe("probeTarget", () => {
  const node = (addresses: { type: string; address: string }[], port?: number, zone?: string): V1Node => ({
    metadata: { name: "n", labels: zone === undefined ? {} : { "topology.kubernetes.io/zone": zone } },
    status: { addresses, ...(port === undefined ? {} : { daemonEndpoints: { kubeletEndpoint: { Port: port } } }) },
  });

  it("takes the first IP of the address types, in their order, and the kubelet's port", () => {
    const n = node(
      [
        { type: "Hostname", address: "n.example" },
        { type: "ExternalIP", address: "192.0.2.9" },
        { type: "InternalIP", address: "10.1.2.3" },
      ],
      10250,
      "zone-a",
    );
    assert.deepEqual(probeTarget(n, ["InternalIP", "ExternalIP"]), {
      node: "n",
      address: "10.1.2.3",
      port: 10250,
      zone: "zone-a",
    });
    assert.equal(probeTarget(n, ["Hostname"]), undefined, "a name is not probed (no DNS in the way)");
  });

  it("has no target without a kubelet port, or with one out of range", () => {
    const addresses = [{ type: "InternalIP", address: "10.1.2.3" }];
    for (const port of [undefined, 0, 70_000])
      assert.equal(probeTarget(node(addresses, port), ["InternalIP"]), undefined);
  });
});

describe("NodeProbes", () => {
  it("no baseline: a node never answered, or not within two intervals, cannot be judged by the probe", async () => {
    const net = network();
    const probes = net.probes();
    assert.equal((await net.run(probes.corroborate(target("node-1")))).kind, "noBaseline");
    await baseline(net, probes, [target("node-1"), target("node-2")]);
    await net.advance(2 * OPTIONS.intervalMs + 1); // node-1 answered at the sweep's start, 4 s before its end
    const stale = await net.run(probes.corroborate(target("node-1")));
    assert.equal(stale.kind, "noBaseline");
    assert.match((stale as { why: string }).why, /last answered a probe 24 s ago/);
  });

  it("late sweeps (one overran, the next was skipped): an answer in either of the last two still counts, up to four intervals", async () => {
    const net = network();
    const probes = net.probes();
    await baseline(net, probes, [target("node-1"), target("node-2")]);
    await net.advance(2 * OPTIONS.intervalMs); // 25 s after the first sweep started: the second comes late
    net.set("10.0.0.1", "silent");
    await baseline(net, probes, [target("node-1"), target("node-2")]);
    assert.notEqual((await net.run(probes.corroborate(target("node-1")))).kind, "noBaseline");
    await net.advance(2 * OPTIONS.intervalMs); // no sweep since: the first is over four intervals back
    assert.equal((await net.run(probes.corroborate(target("node-1")))).kind, "noBaseline");
  });

  it("silent: no answer to any of its connects while the controls answer", async () => {
    const net = network();
    const probes = net.probes();
    await baseline(net, probes, [target("node-1"), target("node-2"), target("node-3"), target("node-4")]);
    net.set("10.0.0.1", "silent");
    net.connects.length = 0;
    const verdict = await net.run(probes.corroborate(target("node-1")));
    assert.equal(verdict.kind, "silent");
    assert.equal(net.connects.filter((a) => a === "10.0.0.1").length, OPTIONS.attempts);
    assert.equal(net.connects.length, OPTIONS.attempts + OPTIONS.controls, "two controls, no more");
  });

  it("answered: the first answer decides, without waiting out the window", async () => {
    const net = network();
    const probes = net.probes({ windowMs: 5_000 });
    await baseline(net, probes, [target("node-1"), target("node-2")]);
    const started = net.clock.monotonicMs();
    const verdict = await net.run(probes.corroborate(target("node-1")));
    assert.equal(verdict.kind, "answered");
    assert.equal(net.clock.monotonicMs() - started, 0, "answered at the window's first moment");
  });

  it("inconclusive: a connect that failed with an error, or a control that did not answer", async () => {
    const net = network();
    const probes = net.probes();
    await baseline(net, probes, [target("node-1"), target("node-2"), target("node-3")]);
    net.set("10.0.0.1", "failed", "EHOSTUNREACH");
    const failed = await net.run(probes.corroborate(target("node-1")));
    assert.deepEqual([failed.kind, /EHOSTUNREACH/.test((failed as { why: string }).why)], ["inconclusive", true]);
    net.set("10.0.0.1", "silent");
    net.set("10.0.0.3", "silent");
    const control = await net.run(probes.corroborate(target("node-1")));
    assert.equal(control.kind, "inconclusive");
    assert.match((control as { why: string }).why, /node-3 did not answer either/);
  });

  it("needs a control to compare with, unless controls are set to 0", async () => {
    const net = network();
    net.set("10.0.0.1", "refused");
    const alone = net.probes();
    await baseline(net, alone, [target("node-1")]);
    net.set("10.0.0.1", "silent");
    assert.equal((await net.run(alone.corroborate(target("node-1")))).kind, "inconclusive");
    const trusting = net.probes({ controls: 0 });
    net.set("10.0.0.1", "refused");
    await baseline(net, trusting, [target("node-1")]);
    net.set("10.0.0.1", "silent");
    assert.equal((await net.run(trusting.corroborate(target("node-1")))).kind, "silent");
  });

  it("asks controls in the node's zone first", async () => {
    const net = network();
    const probes = net.probes({ controls: 1 });
    await baseline(net, probes, [
      target("node-1", "a"),
      target("node-2", "b"),
      target("node-3", "a"),
      target("node-4", "b"),
    ]);
    net.set("10.0.0.1", "silent");
    net.connects.length = 0;
    await net.run(probes.corroborate(target("node-1", "a")));
    assert.deepEqual(new Set(net.connects), new Set(["10.0.0.1", "10.0.0.3"]));
  });

  it("forgets nodes no longer listed, and a node whose address or port changed has no baseline", async () => {
    const net = network();
    const probes = net.probes({ controls: 0 });
    await baseline(net, probes, [target("node-1"), target("node-2")]);
    assert.equal(probes.baselined, 2);
    await baseline(net, probes, [target("node-2")]);
    assert.equal(probes.baselined, 1);
    net.set("10.0.0.9", "silent");
    assert.equal((await net.run(probes.corroborate({ ...target("node-2"), address: "10.0.0.9" }))).kind, "noBaseline");
  });

  it("keeps at most maxNodes nodes, dropping the one probed longest ago", async () => {
    const net = network();
    const probes = net.probes({ maxNodes: 3 });
    await baseline(
      net,
      probes,
      [1, 2, 3, 4, 5].map((i) => target(`node-${i}`)),
    );
    assert.equal(probes.baselined, 3);
    assert.equal((await net.run(probes.corroborate(target("node-1")))).kind, "noBaseline");
  });

  it("spreads a sweep's connects over the interval and keeps at most `concurrency` in flight", async () => {
    const clock = new ManualClock();
    let inFlight = 0;
    let most = 0;
    const startedAt: number[] = [];
    const probe = async () => {
      startedAt.push(clock.monotonicMs());
      most = Math.max(most, ++inFlight);
      await clock.sleep(20);
      inFlight--;
      return { outcome: "silent" } as const;
    };
    const probes = new NodeProbes({ ...OPTIONS, intervalMs: 200, concurrency: 2 }, { probe, clock });
    await clock.run(probes.sweep([1, 2, 3, 4, 5, 6, 7, 8].map((i) => target(`node-${i}`))));
    assert.ok(most <= 2, `${most} in flight`);
    // 80 % of the interval over 8 targets: a slot every 20 ms, each start at its slot.
    assert.deepEqual(startedAt, [0, 20, 40, 60, 80, 100, 120, 140]);
  });
});

describe("NodeProbes.start", () => {
  it("sweeps every interval and reports each sweep's fresh baselines, until stopped", async () => {
    const clock = new ManualClock();
    const sweeps: number[] = [];
    const probed: string[] = [];
    let listed = 0;
    const node = (name: string, address: string): V1Node => ({
      metadata: { name },
      status: {
        addresses: [{ type: "InternalIP", address }],
        daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      },
    });
    const probes = new NodeProbes(
      { ...OPTIONS, intervalMs: 50 },
      {
        probe: (address) => {
          probed.push(address);
          return Promise.resolve({ outcome: "refused" });
        },
        onSweep: (n) => sweeps.push(n),
        nodes: {
          listNodes: () => {
            listed++;
            return Promise.resolve([node("node-1", "10.0.0.1"), node("node-2", "10.0.0.2"), node("no-ip", "x")]);
          },
        },
        onSweepError: (err) => assert.fail(String(err)),
        clock,
      },
    );
    const stop = probes.start();
    await clock.advanceUntil(() => sweeps.length >= 2, 1_000);
    await stop();
    assert.deepEqual(sweeps.slice(0, 2), [2, 2]);
    assert.deepEqual(probed.slice(0, 4), ["10.0.0.1", "10.0.0.2", "10.0.0.1", "10.0.0.2"], "each Node's IP");
    const after = listed;
    await clock.advance(120);
    assert.equal(listed, after, "no sweep after stop");
    assert.equal(clock.timers, 0, "nothing left scheduled");
  });
});

describe("tcpProbe on loopback", () => {
  it("connected when something listens, refused when nothing does: both are answers", async () => {
    const server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      assert.equal((await tcpProbe(systemClock)("127.0.0.1", port, 2_000)).outcome, "connected");
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    assert.equal((await tcpProbe(systemClock)("127.0.0.1", port, 2_000)).outcome, "refused");
    assert.deepEqual(await tcpProbe(systemClock)("node.example", port, 2_000), { outcome: "failed", code: "ENOTIP" });
  });

  it("an answer that came in time is an answer even when the event loop was busy past the deadline", async () => {
    const server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      for (const outcome of ["connected", "refused"] as const) {
        const probing = tcpProbe(systemClock)("127.0.0.1", outcome === "connected" ? port : port + 1, 20);
        // Busy past the deadline: the loopback answer comes as soon as the connect is made, and the loop only gets
        // to read it after the deadline's timer is due.
        const busyUntil = performance.now() + 100;
        while (performance.now() < busyUntil);
        assert.equal((await probing).outcome, outcome);
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
