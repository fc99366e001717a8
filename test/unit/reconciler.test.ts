// The reconciler's pure parts: the keyed work queue, the storm guard, node resolution, conditions.
import type { V1Node } from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KernelPanicEvent } from "../../operator/api/kernelpanicevent.ts";
import { isFinished, setCondition } from "../../operator/reconciler/status/conditions.ts";
import type { WatchHealth } from "../../operator/kube/watch.ts";
import { TerminalError, WorkQueue } from "../../operator/reconciler/loop/queue.ts";
import { stallReason, type WorkState } from "../../operator/reconciler/loop/controller.ts";
import { resolveNode } from "../../operator/reconciler/corroboration/resolve.ts";
import { StormGuard } from "../../operator/reconciler/fleet/stormguard.ts";
import { ManualClock } from "../harness/clock.ts";

describe("stallReason (the reconciler's liveness)", () => {
  const watch = (health: Partial<WatchHealth>): WatchHealth => ({
    connected: true,
    lastConnectedMs: 0,
    stopped: false,
    ...health,
  });
  const state = (overrides: Partial<WorkState>): WorkState => ({
    longestRunningMs: 0,
    sinceMs: 0,
    watch: watch({}),
    ...overrides,
  });

  it("is alive while it watches and no reconcile is stuck", () => {
    assert.equal(stallReason(state({}), 100_000, 60_000), undefined);
    assert.equal(stallReason(state({ longestRunningMs: 60_000 }), 100_000, 60_000), undefined, "not longer yet");
  });

  it("names a reconcile stuck longer than stallMs, a watch that never started, stopped, or stays down", () => {
    assert.equal(
      stallReason(state({ longestRunningMs: 61_000 }), 100_000, 60_000),
      "a reconcile has been running for 61 s",
    );
    assert.equal(
      stallReason(state({ watch: undefined, sinceMs: 30_000 }), 80_000, 60_000),
      undefined,
      "still starting",
    );
    assert.equal(
      stallReason(state({ watch: undefined, sinceMs: 30_000 }), 91_000, 60_000),
      "the KernelPanicEvent watch never started",
    );
    assert.equal(
      stallReason(state({ watch: watch({ stopped: true }) }), 1, 60_000),
      "the KernelPanicEvent watch stopped",
    );
    const down = watch({ connected: false, lastConnectedMs: 10_000 });
    assert.equal(stallReason(state({ watch: down }), 70_000, 60_000), undefined, "reconnecting, within stallMs");
    assert.equal(
      stallReason(state({ watch: down }), 75_000, 60_000),
      "the KernelPanicEvent watch has been down for 65 s",
    );
  });
});

describe("WorkQueue", () => {
  it("never runs one key twice at once, and runs it again if it was added meanwhile", async () => {
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    let release: () => void = () => undefined;
    const clock = new ManualClock();
    const queue = new WorkQueue(
      { concurrency: 4, initialBackoffMs: 1, maxBackoffMs: 10 },
      async () => {
        running++;
        runs++;
        maxRunning = Math.max(maxRunning, running);
        if (runs === 1) await new Promise<void>((resolve) => (release = resolve));
        running--;
        return {};
      },
      () => undefined,
      clock,
    );
    queue.add("a");
    queue.add("a");
    queue.add("a");
    await clock.advance(0);
    assert.equal(runs, 1, "the first run");
    release();
    await clock.advance(0);
    assert.deepEqual([runs, running], [2, 0], "one more run");
    assert.equal(maxRunning, 1);
    await queue.stop();
  });

  it("bounds concurrency across keys and retries failures with backoff", async () => {
    let running = 0;
    let maxRunning = 0;
    const attempts = new Map<string, number>();
    const errors: string[] = [];
    const clock = new ManualClock();
    const started: string[] = [];
    const queue = new WorkQueue(
      { concurrency: 2, initialBackoffMs: 5, maxBackoffMs: 20 },
      async (key) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        started.push(`${key}@${clock.monotonicMs()}`);
        await clock.sleep(5);
        running--;
        const n = (attempts.get(key) ?? 0) + 1;
        attempts.set(key, n);
        if (key === "flaky" && n < 3) throw new Error("try again");
        return {};
      },
      (key, _err, retryInMs) => errors.push(`${key}:${retryInMs}`),
      clock,
    );
    for (const key of ["a", "b", "c", "d", "flaky"]) queue.add(key);
    await clock.advanceUntil(
      () => attempts.get("flaky") === 3 && ["a", "b", "c", "d"].every((k) => attempts.get(k) === 1),
      1000,
      1,
    );
    assert.equal(maxRunning, 2);
    assert.deepEqual(errors, ["flaky:5", "flaky:10"]);
    // Two at a time, 5 ms each; the flaky key's retries come 5 and then 10 ms after each failure.
    assert.deepEqual(started, ["a@0", "b@0", "c@5", "d@5", "flaky@10", "flaky@20", "flaky@35"]);
    await queue.stop();
  });

  it("does not retry a TerminalError, and retries other failures", async () => {
    const clock = new ManualClock();
    const runs = new Map<string, number>();
    const told: string[] = [];
    const queue = new WorkQueue(
      { concurrency: 2, initialBackoffMs: 5, maxBackoffMs: 20 },
      (key) => {
        runs.set(key, (runs.get(key) ?? 0) + 1);
        return Promise.reject(key === "final" ? new TerminalError("invalid") : new Error("try again"));
      },
      (key, err, retryInMs) => told.push(`${key}:${(err as Error).name}:${retryInMs ?? "never"}`),
      clock,
    );
    queue.add("final");
    queue.add("again");
    await clock.advance(100);
    assert.equal(runs.get("final"), 1, "a terminal failure ran once");
    assert.ok((runs.get("again") ?? 0) >= 3, "the other was retried");
    assert.deepEqual(told.slice(0, 2), ["final:TerminalError:never", "again:Error:5"]);
    await queue.stop();
  });

  it("stop() aborts the running handlers' signals and waits for them", async () => {
    const clock = new ManualClock();
    let seen: AbortSignal | undefined;
    let finished = false;
    const queue = new WorkQueue(
      { concurrency: 1, initialBackoffMs: 5, maxBackoffMs: 20 },
      async (_key, signal) => {
        seen = signal;
        await new Promise((resolve) => {
          signal.addEventListener("abort", resolve, { once: true });
        });
        finished = true;
        return {};
      },
      () => undefined,
      clock,
    );
    queue.add("a");
    await clock.advance(0);
    assert.equal(seen?.aborted, false);
    await queue.stop();
    assert.equal(seen?.aborted, true);
    assert.equal(finished, true, "stop waited for the handler");
  });
});

describe("StormGuard", () => {
  const guard = (maxNodes: number, maxPercent: number) => new StormGuard({ maxNodes, maxPercent, windowMs: 1000 });
  const cluster = (count: number, ...extra: string[]) =>
    new Set([...Array.from({ length: count }, (_, i) => `n${i}`), ...extra]);
  const ev = (name: string, approved = false) => ({ name, nodeName: `node-${name}`, approved });

  it("admits up to maxNodes in a window, then holds until the window moves or approval", () => {
    const g = guard(2, 100);
    const nodes = cluster(100);
    assert.equal(g.decide(ev("a"), 0, nodes).admitted, true);
    assert.equal(g.decide(ev("b"), 10, nodes).admitted, true);
    const held = g.decide(ev("c"), 20, nodes);
    // The oldest admission leaves the window in 980 ms; retries are never sooner than a second.
    assert.ok(!held.admitted && held.retryAfterMs === 1000 && /limit 2/.test(held.message));
    assert.equal(g.decide(ev("a"), 30, nodes).admitted, true, "an admitted event stays admitted");
    assert.equal(g.decide(ev("c", true), 40, nodes).admitted, true, "approval overrides");
    assert.equal(g.decide(ev("d"), 1020, nodes).admitted, true, "the window moved on");
  });

  it("caps at maxPercent of the cluster as it was, counting remediated nodes that were deleted, never below one", () => {
    assert.equal(guard(100, 10).limit(50), 5);
    assert.equal(guard(100, 10).limit(3), 1);
    const g = guard(100, 50);
    assert.equal(g.decide(ev("a"), 0, cluster(3, "node-a")).admitted, true);
    // node-a was deleted: the cluster is still 4 nodes for the percentage, so 2 may go.
    assert.equal(g.decide(ev("b"), 0, cluster(2, "node-b")).admitted, true);
    assert.equal(g.decide(ev("c"), 0, cluster(1, "node-c")).admitted, false);
    const kept = guard(100, 50);
    assert.equal(kept.decide(ev("a"), 0, cluster(1, "node-a")).admitted, true);
    assert.equal(
      kept.decide(ev("b"), 0, cluster(0, "node-a", "node-b")).admitted,
      false,
      "a tainted node still exists and counts once",
    );
  });

  it("remembers admissions read back from status after a restart", () => {
    const g = guard(1, 100);
    g.remember("old", 0, "node-old");
    assert.equal(g.decide(ev("new"), 10, cluster(10)).admitted, false);
  });
});

const event = (userdata?: Record<string, string>): KernelPanicEvent => ({
  apiVersion: "lastgasp.dev/v1alpha1",
  kind: "KernelPanicEvent",
  metadata: { name: "e" },
  spec: {
    hostIP: "10.0.0.5",
    firstLine: "x",
    reason: "x",
    contextLines: [],
    detectedTime: "2026-01-01T00:00:10.500Z",
    receivedBy: "r",
    ...(userdata ? { userdata } : {}),
  },
});
const node = (
  name: string,
  ip: string,
  extra: { created?: string; labels?: Record<string, string>; type?: string } = {},
): V1Node => ({
  metadata: { name, creationTimestamp: new Date(extra.created ?? "2026-01-01T00:00:00Z"), labels: extra.labels ?? {} },
  status: { addresses: [{ type: extra.type ?? "InternalIP", address: ip }] },
});
const options = { addressTypes: ["InternalIP"], remediateControlPlane: false };

describe("resolveNode", () => {
  it("finds the node whose address of a configured type is the host IP", () => {
    const result = resolveNode(
      event(),
      [node("a", "10.0.0.4"), node("b", "10.0.0.5"), node("c", "10.0.0.5", { type: "ExternalIP" })],
      options,
    );
    assert.ok(result.ok && result.node.metadata?.name === "b");
    const external = resolveNode(event(), [node("c", "10.0.0.5", { type: "ExternalIP" })], {
      ...options,
      addressTypes: ["ExternalIP"],
    });
    assert.ok(external.ok);
  });

  const refusals: [string, V1Node[], KernelPanicEvent, string][] = [
    ["no node has the IP", [node("a", "10.0.0.4")], event(), "NodeNotFound"],
    ["several nodes have it", [node("a", "10.0.0.5"), node("b", "10.0.0.5")], event(), "AmbiguousNode"],
    [
      "the node was created after the panic",
      [node("a", "10.0.0.5", { created: "2026-01-01T00:00:11Z" })],
      event(),
      "NodeCreatedAfterPanic",
    ],
    ["userdata names another node", [node("a", "10.0.0.5")], event({ node: "b" }), "NodeNameMismatch"],
    [
      "the node is excluded",
      [node("a", "10.0.0.5", { labels: { "lastgasp.dev/exclude": "true" } })],
      event(),
      "NodeExcluded",
    ],
    [
      "it is a control-plane node",
      [node("a", "10.0.0.5", { labels: { "node-role.kubernetes.io/control-plane": "" } })],
      event(),
      "ControlPlaneNode",
    ],
  ];
  for (const [what, nodes, e, reason] of refusals) {
    it(`refuses when ${what}`, () => {
      const result = resolveNode(e, nodes, options);
      assert.ok(!result.ok);
      assert.equal(result.reason, reason);
    });
  }

  it("accepts a node created in the same second as the panic, matching userdata, and control-plane when enabled", () => {
    assert.ok(
      resolveNode(event({ node: "a" }), [node("a", "10.0.0.5", { created: "2026-01-01T00:00:10Z" })], options).ok,
    );
    assert.ok(
      resolveNode(event(), [node("a", "10.0.0.5", { labels: { "node-role.kubernetes.io/control-plane": "" } })], {
        ...options,
        remediateControlPlane: true,
      }).ok,
    );
  });
});

describe("conditions", () => {
  it("keeps lastTransitionTime while the status stays, and moves it when the status changes", () => {
    const t1 = new Date("2026-01-01T00:00:00Z");
    const t2 = new Date("2026-01-01T00:01:00Z");
    let list = setCondition([], { type: "Remediated", status: "False", reason: "InProgress", message: "m" }, t1, 1);
    list = setCondition(list, { type: "Remediated", status: "False", reason: "StormGuard", message: "m" }, t2, 1);
    assert.equal(list[0]!.lastTransitionTime, t1.toISOString());
    list = setCondition(list, { type: "Remediated", status: "True", reason: "Remediated", message: "m" }, t2, 1);
    assert.equal(list[0]!.lastTransitionTime, t2.toISOString());
    assert.equal(list.length, 1);
  });

  it("an event is finished when remediated, dry-run or refused; not while waiting", () => {
    const status = (reason: string, s: "True" | "False" = "False") => ({
      conditions: [{ type: "Remediated", status: s, reason, message: "", lastTransitionTime: "" }],
    });
    assert.equal(isFinished(undefined), false);
    for (const reason of ["InProgress", "StormGuard", "WaitingForLease"])
      assert.equal(isFinished(status(reason)), false, reason);
    for (const reason of ["NodeNotFound", "NodeAlive", "DryRun"])
      assert.equal(isFinished(status(reason)), true, reason);
    assert.equal(isFinished(status("Remediated", "True")), true);
  });
});
