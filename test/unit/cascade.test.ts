// Cascade detection, outcome by outcome: the same Deployment's pods moved across three nodes that panic one after
// another are named on the second and third events, and with cascadeAction hold the third waits for approval.
// The real reconcile, tracker and workload resolution against the in-memory store (reconcile-world.ts).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import type { KernelPanicEvent } from "../../operator/api/kernelpanicevent.ts";
import { ANNOTATIONS } from "../../operator/api/keys.ts";
import { createLogger } from "../../operator/log.ts";
import { CascadeTracker } from "../../operator/reconciler/fleet/cascade.ts";
import { REASONS } from "../../operator/reconciler/status/conditions.ts";
import { reconcile } from "../../operator/reconciler/reconcile.ts";
import { workloadsOf } from "../../operator/reconciler/fleet/workloads.ts";
import { HOUR_MS, PANIC_AT, node, panicEvent, remediated, world, type World } from "../harness/reconcile-world.ts";

const MIN_MS = 60_000;
const log = createLogger("silent", "reconciler");

function ownedPod(name: string, nodeName: string, owner: { kind: string; name: string }, createdMs: number): V1Pod {
  return {
    metadata: {
      name,
      namespace: "default",
      uid: `uid-${name}`,
      creationTimestamp: new Date(createdMs),
      ownerReferences: [
        { apiVersion: "apps/v1", kind: owner.kind, name: owner.name, uid: `uid-${owner.name}`, controller: true },
      ],
    },
    spec: { nodeName, containers: [] },
    status: { phase: "Running" },
  };
}

/** A node with two pods of Deployment web (through ReplicaSet web-5d8f) created at `podsMs`, panicking at `panicMs`. */
function webNode(w: World, name: string, ip: string, times: { podsMs: number; panicMs: number }): KernelPanicEvent {
  w.store.nodes.push(node(name, ip));
  w.store.controllers.set("ReplicaSet/default/web-5d8f", {
    apiVersion: "apps/v1",
    kind: "Deployment",
    name: "web",
    uid: "uid-web",
    controller: true,
  });
  for (const i of [1, 2]) {
    const p = ownedPod(`web-5d8f-${name}-${i}`, name, { kind: "ReplicaSet", name: "web-5d8f" }, times.podsMs);
    w.store.pods.set(`default/${p.metadata!.name!}`, p);
  }
  const agent = ownedPod(`agent-${name}`, name, { kind: "DaemonSet", name: "agent" }, times.podsMs);
  w.store.pods.set(`default/${agent.metadata!.name!}`, agent);
  const event = panicEvent(`kpe-${name}`, ip);
  event.spec.detectedTime = new Date(times.panicMs).toISOString();
  w.store.events.set(event.metadata.name, event);
  return event;
}

/** Three nodes panicking 10 min apart; the web pods of b and c arrived a minute after the previous panic. */
async function cascadeOfThree(w: World, cPodsMs = PANIC_AT + 11 * MIN_MS) {
  const a = webNode(w, "node-a", "10.0.0.1", { podsMs: PANIC_AT - HOUR_MS, panicMs: PANIC_AT });
  await reconcile(a.metadata.name, w.deps);
  w.advance(10 * MIN_MS);
  const b = webNode(w, "node-b", "10.0.0.2", { podsMs: PANIC_AT + MIN_MS, panicMs: PANIC_AT + 10 * MIN_MS });
  await reconcile(b.metadata.name, w.deps);
  w.advance(10 * MIN_MS);
  const c = webNode(w, "node-c", "10.0.0.3", { podsMs: cPodsMs, panicMs: PANIC_AT + 20 * MIN_MS });
  await reconcile(c.metadata.name, w.deps);
  return { a: a.metadata.name, b: b.metadata.name, c: c.metadata.name };
}

function status(w: World, name: string) {
  return w.store.events.get(name)!.status!;
}

function cascadeWarnings(w: World): string[] {
  return w.store.writes.filter((e) => e === "event Warning KernelPanicCascade Deployment/web");
}

describe("cascade detection", () => {
  it("captures the node's workloads by top owner before failing its pods, DaemonSets left out", async () => {
    const w = world();
    const { a } = await cascadeOfThree(w);
    assert.equal(remediated(w, a)?.reason, REASONS.remediated);
    assert.deepEqual(status(w, a).workloads, [
      {
        kind: "Deployment",
        apiVersion: "apps/v1",
        namespace: "default",
        name: "web",
        pods: 2,
        newestPod: new Date(PANIC_AT - HOUR_MS).toISOString(),
      },
    ]);
    assert.deepEqual(status(w, a).suspects, []);
  });

  it("names the Deployment on the second event and warns it, and remediates (two nodes may be chance)", async () => {
    const w = world();
    const { a, b } = await cascadeOfThree(w);
    assert.equal(remediated(w, b)?.reason, REASONS.remediated);
    assert.deepEqual(status(w, b).suspects, [
      { kind: "Deployment", namespace: "default", name: "web", nodes: 2, events: [a, b] },
    ]);
    assert.ok(cascadeWarnings(w).length >= 1, w.store.writes.join("\n"));
  });

  it("holds the third node for approval, then remediates it once approved", async () => {
    const w = world();
    const { a, b, c } = await cascadeOfThree(w);
    const held = remediated(w, c);
    assert.equal(held?.reason, REASONS.cascadeSuspected);
    assert.match(
      held?.message ?? "",
      /Deployment default\/web was on 3 nodes that panicked within 60 min \(node-a, node-b, node-c/,
    );
    assert.deepEqual(status(w, c).suspects?.[0]?.events, [a, b, c]);
    assert.equal(cascadeWarnings(w).length, 2, "one Warning per event that named it");
    assert.ok(!w.store.writes.some((e) => /node-c/.test(e) && !e.startsWith("status") && !e.startsWith("event")));
    assert.equal(w.store.pods.size, 3, "node-c's pods are left alone");

    const event = w.store.events.get(c)!;
    event.metadata.annotations = { [ANNOTATIONS.approve]: "true" };
    await reconcile(c, w.deps);
    assert.equal(remediated(w, c)?.reason, REASONS.remediated);
    assert.equal(cascadeWarnings(w).length, 2, "approval does not warn again");
    assert.equal(w.store.pods.size, 0);
  });

  it("with cascadeAction advise, names the suspect on the third node but remediates it", async () => {
    const w = world({ cascadeAction: "advise" });
    const { c } = await cascadeOfThree(w);
    assert.equal(remediated(w, c)?.reason, REASONS.remediated);
    assert.equal(status(w, c).suspects?.[0]?.nodes, 3);
  });

  it("does not hold a node whose pods of the suspect were there before the first panic (they did not follow it)", async () => {
    const w = world();
    const { c } = await cascadeOfThree(w, PANIC_AT - HOUR_MS);
    assert.equal(remediated(w, c)?.reason, REASONS.remediated);
    assert.equal(status(w, c).suspects?.[0]?.nodes, 3, "still named");
  });

  it("ignores panics further apart than the window", async () => {
    const w = world();
    const a = webNode(w, "node-a", "10.0.0.1", { podsMs: PANIC_AT - HOUR_MS, panicMs: PANIC_AT });
    await reconcile(a.metadata.name, w.deps);
    w.advance(2 * HOUR_MS);
    const later = PANIC_AT + 2 * HOUR_MS;
    const b = webNode(w, "node-b", "10.0.0.2", { podsMs: PANIC_AT + MIN_MS, panicMs: later });
    await reconcile(b.metadata.name, w.deps);
    assert.deepEqual(status(w, b.metadata.name).suspects, []);
    assert.deepEqual(cascadeWarnings(w), []);
  });
});

describe("CascadeTracker", () => {
  const web = { kind: "Deployment", apiVersion: "apps/v1", namespace: "default", name: "web", pods: 1 };

  it("does not count the same node twice, nor the same event", () => {
    const tracker = new CascadeTracker({ windowMs: HOUR_MS, maxWorkloads: 10 });
    tracker.ran({ nodeName: "a", event: "e1", atMs: 0 }, [web]);
    tracker.ran({ nodeName: "a", event: "e1", atMs: 0 }, [web]);
    assert.deepEqual(tracker.suspects({ nodeName: "a", event: "e2", atMs: 1 }, [web]), []);
    const [suspect] = tracker.suspects({ nodeName: "b", event: "e3", atMs: 2 }, [web]);
    assert.equal(suspect?.nodes, 2);
    assert.deepEqual(suspect?.events, ["e1", "e3"]);
  });

  it("forgets the least recently seen workloads beyond its bound", () => {
    const tracker = new CascadeTracker({ windowMs: HOUR_MS, maxWorkloads: 2 });
    const named = (name: string) => ({ ...web, name });
    tracker.ran({ nodeName: "a", event: "e1", atMs: 0 }, [named("w1"), named("w2")]);
    tracker.ran({ nodeName: "b", event: "e2", atMs: 0 }, [named("w3")]);
    const found = tracker.suspects({ nodeName: "c", event: "e3", atMs: 0 }, [named("w1"), named("w2"), named("w3")]);
    assert.deepEqual(found.map((s) => s.name).sort(), ["w2", "w3"]);
  });

  it("is off with a zero window", () => {
    const tracker = new CascadeTracker({ windowMs: 0, maxWorkloads: 10 });
    tracker.ran({ nodeName: "a", event: "e1", atMs: 0 }, [web]);
    assert.deepEqual(tracker.suspects({ nodeName: "b", event: "e2", atMs: 0 }, [web]), []);
  });
});

describe("workloadsOf", () => {
  const at = PANIC_AT;
  it("resolves a Job to its CronJob, keeps a ReplicaSet whose controller cannot be read, skips bare pods", async () => {
    const pods = [
      ownedPod("job-1", "n", { kind: "Job", name: "backup-29000000" }, at),
      ownedPod("job-2", "n", { kind: "Job", name: "backup-29000000" }, at + 5000),
      ownedPod("rs-1", "n", { kind: "ReplicaSet", name: "api-77" }, at),
      { metadata: { name: "bare", namespace: "default" }, spec: { nodeName: "n", containers: [] } },
    ];
    const reader = {
      getController: (kind: string) =>
        kind === "Job"
          ? Promise.resolve({ apiVersion: "batch/v1", kind: "CronJob", name: "backup", uid: "u", controller: true })
          : Promise.reject(Object.assign(new Error("forbidden"), { code: 403 })),
    };
    const workloads = await workloadsOf(pods, reader, { concurrency: 2, log });
    assert.deepEqual(
      workloads.map((w) => [w.kind, w.name, w.pods, w.newestPod]),
      [
        ["CronJob", "backup", 2, new Date(at + 5000).toISOString()],
        ["ReplicaSet", "api-77", 1, new Date(at).toISOString()],
      ],
    );
  });
});
