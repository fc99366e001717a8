// Coverage logic without a cluster: the receiver's recording of self-tests (identity check, once per interval,
// bounded memory) and the reconciler's classification of nodes.
import type { V1Node } from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ANNOTATIONS } from "../../operator/api/keys.ts";
import { formatSelfTest, formatUnavailable } from "../../operator/api/selftest.ts";
import { createLogger } from "../../operator/log.ts";
import { CoverageMonitor, MAX_EVENTS_PER_CHECK, coverageOf } from "../../operator/reconciler/fleet/coverage-monitor.ts";
import { ReconcilerMetrics } from "../../operator/reconciler/metrics.ts";
import { CoverageRecorder, type CoverageCluster } from "../../operator/receiver/main/coverage-recorder.ts";
import { ReceiverMetrics } from "../../operator/receiver/metrics.ts";
import { testIngest } from "../harness/ingest.ts";
import { encodeExtended, encodePlain } from "../../operator/netconsole/encode.ts";
import type { SelfTestHeard } from "../../operator/receiver/ingest-messages.ts";
import { ManualClock } from "../harness/clock.ts";

const BOOT_ID = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";

function node(name: string, address: string, lastSeen?: string): V1Node {
  return {
    metadata: {
      name,
      ...(lastSeen === undefined ? {} : { annotations: { [ANNOTATIONS.netconsoleLastSeen]: lastSeen } }),
    },
    status: { addresses: [{ type: "InternalIP", address }] },
  };
}

/** A cluster of nodes in memory, recording annotation writes. */
function fakeCluster(nodes: V1Node[]): CoverageCluster & { writes: string[]; nodes: Map<string, V1Node> } {
  const byName = new Map(nodes.map((n) => [n.metadata!.name!, n]));
  const writes: string[] = [];
  return {
    writes,
    nodes: byName,
    getNode: (name) => Promise.resolve(byName.get(name)),
    annotateNode: (name, annotations) => {
      const unavailable = annotations[ANNOTATIONS.netconsoleUnavailable];
      writes.push(
        unavailable === undefined
          ? `${name}=${annotations[ANNOTATIONS.netconsoleLastSeen]!}`
          : `${name} unavailable=${unavailable ?? "(removed)"}`,
      );
      const n = byName.get(name)!;
      // A merge patch: null removes.
      const merged = { ...n.metadata!.annotations, ...annotations };
      n.metadata!.annotations = Object.fromEntries(
        Object.entries(merged).filter((e): e is [string, string] => e[1] !== null),
      );
      return Promise.resolve();
    },
  };
}

async function results(metrics: ReceiverMetrics): Promise<Record<string, number>> {
  const values = (await metrics.selfTests.get()).values;
  return Object.fromEntries(values.filter((v) => v.value > 0).map((v) => [String(v.labels.result), v.value]));
}

function recorderOn(cluster: CoverageCluster, maxInFlight = 100) {
  const metrics = new ReceiverMetrics();
  const options = { intervalMs: 60_000, maxNodes: 10, maxInFlight };
  return { recorder: new CoverageRecorder(cluster, options, metrics, createLogger("silent", "t")), metrics };
}

describe("CoverageRecorder", () => {
  const heard = (n: string, hostIP: string): SelfTestHeard => ({ node: n, bootId: BOOT_ID, hostIP });

  it("stamps a node heard from its own address, at most once per interval", async () => {
    const cluster = fakeCluster([node("a", "10.0.0.1")]);
    const { recorder, metrics } = recorderOn(cluster);
    recorder.heard(heard("a", "10.0.0.1"), Date.parse("2026-01-01T00:00:00Z"));
    recorder.heard(heard("a", "10.0.0.1"), Date.parse("2026-01-01T00:00:01Z")); // while the first is in flight
    await recorder.drain();
    recorder.heard(heard("a", "10.0.0.1"), Date.parse("2026-01-01T00:00:59Z"));
    recorder.heard(heard("a", "10.0.0.1"), Date.parse("2026-01-01T00:01:00Z"));
    await recorder.drain();
    assert.deepEqual(cluster.writes, ["a=2026-01-01T00:00:00.000Z", "a=2026-01-01T00:01:00.000Z"]);
    assert.deepEqual(await results(metrics), { recorded: 2, throttled: 2 });
  });

  it("puts an agent's unavailable report on its Node (once per reason), and a later self-test clears it", async () => {
    const cluster = fakeCluster([node("a", "10.0.0.1")]);
    const { recorder, metrics } = recorderOn(cluster);
    const report = (why: string, hostIP = "10.0.0.1"): SelfTestHeard => ({ ...heard("a", hostIP), unavailable: why });
    recorder.heard(report("no configfs", "10.0.0.66"), 0); // not the node's address
    await recorder.drain();
    recorder.heard(report("no configfs"), 60_000);
    await recorder.drain();
    recorder.heard(report("no configfs"), 120_000); // the same reason again: nothing to write
    await recorder.drain();
    recorder.heard(heard("a", "10.0.0.1"), 120_000); // heard through the kernel after all
    await recorder.drain();
    assert.deepEqual(cluster.writes, ["a unavailable=no configfs", "a unavailable=(removed)"]);
    const annotations = cluster.nodes.get("a")!.metadata!.annotations!;
    assert.equal(annotations[ANNOTATIONS.netconsoleUnavailable], undefined);
    assert.equal(annotations[ANNOTATIONS.netconsoleLastSeen], "1970-01-01T00:02:00.000Z");
    assert.deepEqual(await results(metrics), { address_mismatch: 1, unavailable: 2, recorded: 1 });
  });

  it("refuses a self-test from an address that is not the node's, and one naming no node", async () => {
    const cluster = fakeCluster([node("a", "10.0.0.1")]);
    const { recorder, metrics } = recorderOn(cluster);
    recorder.heard(heard("a", "10.0.0.66"), 0);
    recorder.heard(heard("ghost", "10.0.0.1"), 0);
    await recorder.drain();
    recorder.heard(heard("ghost", "10.0.0.1"), 1000); // a repeat within the interval costs no lookup
    await recorder.drain();
    assert.deepEqual(cluster.writes, []);
    assert.deepEqual(await results(metrics), { address_mismatch: 1, unknown_node: 1, throttled: 1 });
  });

  it("does not write again when another replica stamped the node within the interval", async () => {
    const now = Date.parse("2026-01-01T00:10:00Z");
    const cluster = fakeCluster([node("a", "10.0.0.1", new Date(now - 30_000).toISOString())]);
    const { recorder, metrics } = recorderOn(cluster);
    recorder.heard(heard("a", "10.0.0.1"), now);
    await recorder.drain();
    assert.deepEqual(cluster.writes, []);
    assert.deepEqual(await results(metrics), { throttled: 1 });
  });

  it("counts a failed write as an error and tries again at the next self-test", async () => {
    const cluster = fakeCluster([node("a", "10.0.0.1")]);
    let failures = 1;
    const flaky: CoverageCluster = {
      getNode: async (name) => cluster.getNode(name),
      annotateNode: async (name, annotations) => {
        if (failures-- > 0) throw new Error("503 Service Unavailable");
        await cluster.annotateNode(name, annotations);
      },
    };
    const { recorder, metrics } = recorderOn(flaky);
    recorder.heard(heard("a", "10.0.0.1"), 0);
    await recorder.drain();
    recorder.heard(heard("a", "10.0.0.1"), 1000);
    await recorder.drain();
    assert.equal(cluster.writes.length, 1);
    assert.deepEqual(await results(metrics), { error: 1, recorded: 1 });
  });

  it("checks at most maxInFlight self-tests at once and drops the rest as busy", async () => {
    const nodes = Array.from({ length: 5 }, (_, i) => node(`n${i}`, `10.0.1.${i}`));
    const { recorder, metrics } = recorderOn(fakeCluster(nodes), 2);
    for (let i = 0; i < 5; i++) recorder.heard(heard(`n${i}`, `10.0.1.${i}`), 0);
    await recorder.drain();
    assert.deepEqual(await results(metrics), { recorded: 2, busy: 3 });
  });

  it("remembers at most maxNodes nodes", async () => {
    const nodes = Array.from({ length: 50 }, (_, i) => node(`n${i}`, `10.0.1.${i}`));
    const cluster = fakeCluster(nodes);
    const { recorder } = recorderOn(cluster);
    for (let i = 0; i < 50; i++) recorder.heard(heard(`n${i}`, `10.0.1.${i}`), 0);
    await recorder.drain();
    assert.equal((recorder as unknown as { checked: Map<string, number> }).checked.size, 10);
  });
});

describe("Ingest hands self-test lines on", () => {
  it("in extended and plain mode, with the source address", () => {
    const { ingest, selfTests: heard } = testIngest();
    const line = formatSelfTest({ node: "worker-1", bootId: BOOT_ID });
    for (const d of encodeExtended([`<12>${line}`], {
      extended: true,
      release: "6.9.7",
      userdata: { node: "worker-1" },
    }))
      ingest.datagram("10.0.0.1", d, 0);
    for (const d of encodePlain([`[  12.000000] ${line}`])) ingest.datagram("10.0.0.2", d, 0);
    for (const d of encodePlain(["[  12.000000] lastgasp netconsole self-test node=x"]))
      ingest.datagram("10.0.0.3", d, 0);
    ingest.tick(1000);
    assert.deepEqual(heard, [
      { node: "worker-1", bootId: BOOT_ID, hostIP: "10.0.0.1" },
      { node: "worker-1", bootId: BOOT_ID, hostIP: "10.0.0.2" },
    ]);
  });

  it("an agent's unavailable report, a plain line it sends itself", () => {
    const { ingest, selfTests: heard } = testIngest();
    const line = formatUnavailable({ node: "worker-1", bootId: BOOT_ID, reason: "modprobe netconsole failed" });
    ingest.datagram("10.0.0.1", Buffer.from(`${line}\n`), 0);
    ingest.datagram("10.0.0.2", Buffer.from("lastgasp netconsole unavailable node=worker-1\n"), 0);
    ingest.tick(1000);
    assert.deepEqual(heard, [
      {
        node: "worker-1",
        bootId: BOOT_ID,
        hostIP: "10.0.0.1",
        unavailable: "modprobe netconsole failed",
      },
    ]);
  });
});

describe("coverageOf", () => {
  const now = Date.parse("2026-01-01T01:00:00Z");
  it("unavailable, with the agent's reason, whatever was heard before", () => {
    const reported = node("a", "x", "2026-01-01T00:59:00Z");
    reported.metadata!.annotations![ANNOTATIONS.netconsoleUnavailable] = "modprobe netconsole failed";
    assert.deepEqual(coverageOf(reported, now, 120_000), {
      state: "unavailable",
      reason: "modprobe netconsole failed",
    });
  });
  it("covered within the silence limit, silent beyond it, unheard without (or with a bad) annotation", () => {
    assert.equal(coverageOf(node("a", "x", "2026-01-01T00:59:00Z"), now, 120_000).state, "covered");
    assert.deepEqual(coverageOf(node("a", "x", "2026-01-01T00:50:00Z"), now, 120_000), {
      state: "silent",
      lastSeenMs: Date.parse("2026-01-01T00:50:00Z"),
    });
    assert.equal(coverageOf(node("a", "x"), now, 120_000).state, "unheard");
    assert.equal(coverageOf(node("a", "x", "yesterday-ish"), now, 120_000).state, "unheard");
  });
});

describe("CoverageMonitor", () => {
  const clock = new ManualClock(new Date("2026-01-01T01:00:00Z"));
  const ago = (seconds: number) => new Date(clock.nowMs() - seconds * 1000).toISOString();

  function monitorOn(nodes: V1Node[], failEvents = 0) {
    const events: string[] = [];
    let failures = failEvents;
    const metrics = new ReconcilerMetrics();
    const monitor = new CoverageMonitor(
      {
        reader: { listNodes: () => Promise.resolve(nodes) },
        writer: {
          recordEvent: (ref, _type, reason) => {
            if (failures-- > 0) return Promise.reject(new Error("503"));
            events.push(`${ref.name}:${reason}`);
            return Promise.resolve();
          },
        },
        metrics,
        log: createLogger("silent", "t"),
        clock,
      },
      600_000,
      60_000,
    );
    return { monitor, events, metrics };
  }

  it("counts covered, silent and unheard nodes and flags each silent one once, a few Events per check", async () => {
    const silent = Array.from({ length: MAX_EVENTS_PER_CHECK + 5 }, (_, i) => node(`s${i}`, "x", ago(900)));
    const nodes = [node("c", "x", ago(30)), node("u", "x"), ...silent];
    const { monitor, events, metrics } = monitorOn(nodes);
    assert.deepEqual(await monitor.check(), { covered: 1, silent: silent.length, unheard: 1, unavailable: 0 });
    assert.equal(events.length, MAX_EVENTS_PER_CHECK);
    await monitor.check();
    assert.equal(events.length, silent.length, "the rest at the next check");
    await monitor.check();
    assert.equal(events.length, silent.length, "never twice");
    assert.ok(events.every((e) => e.endsWith(":NetconsoleSilent")));
    const series = (await metrics.netconsoleSilentNode.get()).values;
    assert.equal(series.length, silent.length);
    assert.equal((await metrics.nodes.get()).values[0]!.value, nodes.length);
  });

  it("retries a failed Event, and announces a node heard again", async () => {
    const quiet = node("q", "x", ago(900));
    const { monitor, events } = monitorOn([quiet], 1);
    await monitor.check();
    assert.deepEqual(events, []);
    await monitor.check();
    assert.deepEqual(events, ["q:NetconsoleSilent"]);
    quiet.metadata!.annotations![ANNOTATIONS.netconsoleLastSeen] = ago(5);
    await monitor.check();
    assert.deepEqual(events, ["q:NetconsoleSilent", "q:NetconsoleHeardAgain"]);
  });

  it("flags a node its agent reports unavailable once per reason, and counts it", async () => {
    const bare = node("b", "x");
    const { monitor, events } = monitorOn([bare]);
    bare.metadata!.annotations = { [ANNOTATIONS.netconsoleUnavailable]: "no configfs" };
    assert.deepEqual(await monitor.check(), { covered: 0, silent: 0, unheard: 0, unavailable: 1 });
    await monitor.check();
    bare.metadata!.annotations[ANNOTATIONS.netconsoleUnavailable] = "modprobe netconsole failed";
    await monitor.check();
    assert.deepEqual(events, ["b:NetconsoleUnavailable", "b:NetconsoleUnavailable"]);
  });
});
