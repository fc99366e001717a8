// How reconcile uses the probe's verdict (the probe itself: probes.test.ts): silence corroborates at once only
// beside a panic that continued the node's own stream, an answer refuses at once but the Lease may still overrule
// it, and anything else falls back to the Lease.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { afterPanicStamp, type KernelPanicEvent, type StreamEvidence } from "../../operator/api/kernelpanicevent.ts";
import { ANNOTATIONS } from "../../operator/api/keys.ts";
import { CONDITIONS, REASONS, getCondition } from "../../operator/reconciler/status/conditions.ts";
import type { ProbeTarget, ProbeVerdict } from "../../operator/reconciler/corroboration/node-probes.ts";
import { reconcile } from "../../operator/reconciler/reconcile.ts";
import {
  REFUSED_TTL_MS,
  bootIdOf,
  continuousStream,
  lease,
  panickedNode,
  remediated,
  touchedNothing,
  world,
  type World,
} from "../harness/reconcile-world.ts";

/** A probe that answers with `verdict`, has a baseline for `known`, and remembers whom it was asked about. */
function fakeProbes(verdict: (target: ProbeTarget) => ProbeVerdict, known: readonly ProbeTarget[] = []) {
  const asked: ProbeTarget[] = [];
  return {
    asked,
    corroborate: (target: ProbeTarget) => {
      asked.push(target);
      return Promise.resolve(verdict(target));
    },
    targetAt: (address: string) => known.find((t) => t.address === address),
  };
}

/**
 * Node node-a with its pods, its Lease at resourceVersion 100 and its panic, in a world asking `probes`; the panic
 * continued node-a's stream unless `stream` says otherwise (null: the receiver recorded nothing).
 */
function probedPanic(
  probes: ReturnType<typeof fakeProbes>,
  stream: StreamEvidence | null = continuousStream("node-a"),
): { w: World; event: KernelPanicEvent } {
  const w = world({ leaseCheck: true, probes });
  const recorded = panickedNode(w);
  const event = { ...recorded, spec: { ...recorded.spec, ...(stream === null ? {} : { stream }) } };
  w.store.events.set(event.metadata.name, event);
  w.store.leases.set("node-a", lease("node-a", "100"));
  return { w, event };
}

function corroborated(w: World, name: string) {
  return getCondition(w.store.events.get(name)?.status, CONDITIONS.corroborated);
}

describe("reconcile with the probe", () => {
  it("ProbeSilent: a node silent after a baseline is remediated at once, without the Lease wait", async () => {
    const probes = fakeProbes((target) => ({ kind: "silent", target, controls: ["node-b", "node-c"] }));
    const { w, event } = probedPanic(probes);
    await reconcile(event.metadata.name, w.deps);
    assert.deepEqual(probes.asked, [{ node: "node-a", address: "10.0.0.1", port: 10250 }]);
    assert.equal(remediated(w, event.metadata.name)?.reason, REASONS.remediated);
    const evidence = corroborated(w, event.metadata.name);
    assert.equal(evidence?.status, "True");
    assert.equal(evidence?.reason, REASONS.probeSilent);
    assert.match(evidence?.message ?? "", /Nodes node-b, node-c answered/);
    assert.match(evidence?.message ?? "", /continued Node node-a's netconsole stream/);
    assert.ok(w.store.writes.includes("deleteNode node-a"));
  });

  // A silent probe alone never deletes a node: anyone who can drop its packets for a moment makes that silence.
  for (const [what, stream, why] of [
    ["no stream evidence", null, /recorded nothing about the node's netconsole stream/],
    ["a plain-mode panic", { continuity: "Plain" }, /plain mode/],
    ["no self-test heard", { continuity: "Unanchored" }, /no self-test of the node agent/],
    [
      "a panic off the stream",
      { continuity: "Broken", message: "its sequence number 7 is not after 41" },
      /not after 41/,
    ],
    ["another node's stream", continuousStream("node-b", bootIdOf("node-a")), /naming node-b, not node-a/],
    ["another boot's stream", continuousStream("node-a", bootIdOf("node-z")), /and Node node-a's is /],
  ] as const)
    it(`silent with ${what}: the Lease decides, and a live node's renewal refuses the panic`, async () => {
      const probes = fakeProbes((target) => ({ kind: "silent", target, controls: ["node-b"] }));
      const { w, event } = probedPanic(probes, stream);
      const first = await reconcile(event.metadata.name, w.deps);
      const waiting = remediated(w, event.metadata.name);
      assert.equal(waiting?.reason, REASONS.waitingForLease);
      assert.match(waiting?.message ?? "", /kubelet port gave no answer, but silence alone is not enough/);
      assert.match(waiting?.message ?? "", why);
      touchedNothing(w);
      w.store.leases.set("node-a", lease("node-a", "101"));
      w.advance(first.requeueAfterMs!);
      await reconcile(event.metadata.name, w.deps);
      assert.equal(remediated(w, event.metadata.name)?.reason, REASONS.nodeAlive);
      touchedNothing(w);
    });

  it("StreamAfterPanic: a node whose kernel went on after the panic is refused, silent or with its Lease stopped", async () => {
    for (const verdict of ["silent", "answered"] as const) {
      const probes = fakeProbes((target) =>
        verdict === "silent"
          ? { kind: "silent", target, controls: ["node-b"] }
          : { kind: "answered", target, outcome: "connected" },
      );
      const { w, event } = probedPanic(probes);
      const name = event.metadata.name;
      w.store.events.set(name, { ...event, spec: { ...event.spec, sequence: 4242 } });
      const first = await reconcile(name, w.deps);
      if (verdict === "silent") assert.equal(remediated(w, name)?.reason, REASONS.remediated, "control: acted on");
      else {
        // Answered, then the receiver heard the kernel's stream go on while the Lease (stopped) was watched.
        const nodeA = w.store.nodes.find((n) => n.metadata?.name === "node-a")!;
        nodeA.metadata!.annotations = {
          ...nodeA.metadata!.annotations,
          [ANNOTATIONS.netconsoleAfterPanic]: afterPanicStamp(bootIdOf("node-a"), 4242),
        };
        w.advance(first.requeueAfterMs!);
        await reconcile(name, w.deps);
        assert.equal(remediated(w, name)?.reason, REASONS.nodeAlive);
        assert.equal(corroborated(w, name)?.reason, REASONS.streamAfterPanic);
        assert.match(remediated(w, name)?.message ?? "", /kernel went on sending its netconsole stream/);
        touchedNothing(w);
      }
    }
    // Silent, with the stamp already there: refused before the probe is asked; another panic's stamp is not enough.
    for (const [stamp, expected] of [
      [afterPanicStamp(bootIdOf("node-a"), 4242), REASONS.nodeAlive],
      [afterPanicStamp(bootIdOf("node-a"), 4241), REASONS.remediated],
      [afterPanicStamp(bootIdOf("node-z"), 4242), REASONS.remediated],
    ] as const) {
      const probes = fakeProbes((target) => ({ kind: "silent", target, controls: ["node-b"] }));
      const { w, event } = probedPanic(probes);
      const name = event.metadata.name;
      w.store.events.set(name, { ...event, spec: { ...event.spec, sequence: 4242 } });
      const nodeA = w.store.nodes.find((n) => n.metadata?.name === "node-a")!;
      nodeA.metadata!.annotations = { ...nodeA.metadata!.annotations, [ANNOTATIONS.netconsoleAfterPanic]: stamp };
      await reconcile(name, w.deps);
      assert.equal(remediated(w, name)?.reason, expected, stamp);
    }
  });

  it("ProbeAnswered: a node that answers is refused at once; its Lease renewing confirms it", async () => {
    const probes = fakeProbes((target) => ({ kind: "answered", target, outcome: "refused" }));
    const { w, event } = probedPanic(probes);
    const first = await reconcile(event.metadata.name, w.deps);
    assert.equal(remediated(w, event.metadata.name)?.reason, REASONS.nodeAlive);
    assert.match(remediated(w, event.metadata.name)?.message ?? "", /refused \(a reset from its TCP stack\)/);
    assert.equal(corroborated(w, event.metadata.name)?.status, "Unknown");
    assert.ok(w.store.writes.includes("event Warning NodeAlive Node/node-a"));
    assert.ok(first.requeueAfterMs !== undefined && first.requeueAfterMs < REFUSED_TTL_MS);
    w.store.leases.set("node-a", lease("node-a", "101"));
    w.advance(first.requeueAfterMs);
    const second = await reconcile(event.metadata.name, w.deps);
    assert.equal(second.requeueAfterMs, REFUSED_TTL_MS);
    assert.equal(corroborated(w, event.metadata.name)?.reason, REASONS.leaseRenewed);
    assert.equal(remediated(w, event.metadata.name)?.reason, REASONS.nodeAlive);
    assert.equal(probes.asked.length, 1, "the probe has its say once");
    touchedNothing(w);
  });

  it("ProbeContradicted: an answer from a node whose Lease stopped is overruled and the node remediated", async () => {
    const probes = fakeProbes((target) => ({ kind: "answered", target, outcome: "connected" }));
    const { w, event } = probedPanic(probes);
    const first = await reconcile(event.metadata.name, w.deps);
    assert.equal(remediated(w, event.metadata.name)?.reason, REASONS.nodeAlive);
    touchedNothing(w);
    w.advance(first.requeueAfterMs!);
    await reconcile(event.metadata.name, w.deps);
    assert.equal(remediated(w, event.metadata.name)?.reason, REASONS.remediated);
    assert.equal(corroborated(w, event.metadata.name)?.reason, REASONS.leaseStale);
    assert.ok(w.store.writes.includes("event Warning ProbeContradicted KernelPanicEvent/kpe-node-a"));
    assert.ok(w.store.writes.includes("deleteNode node-a"));
  });

  it("a node that answered and then disappeared ends its confirmation, so the event expires as refused", async () => {
    const probes = fakeProbes((target) => ({ kind: "answered", target, outcome: "refused" }));
    const { w, event } = probedPanic(probes);
    await reconcile(event.metadata.name, w.deps);
    w.store.nodes.length = 0;
    await reconcile(event.metadata.name, w.deps);
    assert.equal(corroborated(w, event.metadata.name)?.reason, REASONS.nodeNotFound);
    assert.equal(remediated(w, event.metadata.name)?.reason, REASONS.nodeAlive);
    w.advance(REFUSED_TTL_MS + 1);
    await reconcile(event.metadata.name, w.deps);
    assert.equal(w.store.events.has(event.metadata.name), false, "expired");
  });

  for (const verdict of [
    { kind: "noBaseline", why: "it has not answered a probe" },
    { kind: "inconclusive", why: "nodes node-b did not answer either" },
  ] as const)
    it(`${verdict.kind}: the Lease decides, and the waiting message says why the probe could not`, async () => {
      const probes = fakeProbes(() => verdict);
      const { w, event } = probedPanic(probes);
      const first = await reconcile(event.metadata.name, w.deps);
      assert.equal(remediated(w, event.metadata.name)?.reason, REASONS.waitingForLease);
      assert.ok(remediated(w, event.metadata.name)?.message.includes(`The probe could not tell: ${verdict.why}.`));
      touchedNothing(w);
      w.store.leases.set("node-a", lease("node-a", "101"));
      w.advance(first.requeueAfterMs!);
      await reconcile(event.metadata.name, w.deps);
      assert.equal(remediated(w, event.metadata.name)?.reason, REASONS.nodeAlive);
      assert.equal(corroborated(w, event.metadata.name)?.reason, REASONS.leaseRenewed);
      assert.equal(probes.asked.length, 1, "the probe is not asked again while the Lease is watched");
      touchedNothing(w);
    });

  it("starts the probe as soon as the event is read, before the nodes are read, and uses that round", async () => {
    const known = [{ node: "node-a", address: "10.0.0.1", port: 10250 }];
    const steps: string[] = [];
    const probes = fakeProbes((target) => {
      steps.push("probe");
      return { kind: "silent", target, controls: [] };
    }, known);
    const { w, event } = probedPanic(probes);
    const listNodes = w.store.listNodes.bind(w.store);
    w.store.listNodes = () => {
      steps.push("list");
      return listNodes();
    };
    const getNode = w.store.getNode.bind(w.store);
    w.store.getNode = (name) => {
      steps.push("get");
      return getNode(name);
    };
    await reconcile(event.metadata.name, w.deps);
    assert.deepEqual(steps, ["probe", "get"]);
    assert.equal(remediated(w, event.metadata.name)?.reason, REASONS.remediated);
  });

  it("probes again when the early round was about another node than the one resolved", async () => {
    const stale = { node: "node-old", address: "10.0.0.1", port: 10250 };
    const probes = fakeProbes((target) => ({ kind: "answered", target, outcome: "refused" }), [stale]);
    const { w, event } = probedPanic(probes);
    await reconcile(event.metadata.name, w.deps);
    assert.deepEqual(
      probes.asked.map((t) => t.node),
      ["node-old", "node-a"],
    );
    assert.match(remediated(w, event.metadata.name)?.message ?? "", /Node node-a refused/);
  });

  it("LeaseStale: without the probe the Lease wait decides, and Corroborated says so", async () => {
    const w = world({ leaseCheck: true });
    const event = panickedNode(w);
    w.store.leases.set("node-a", lease("node-a", "100"));
    const first = await reconcile(event.metadata.name, w.deps);
    w.advance(first.requeueAfterMs!);
    await reconcile(event.metadata.name, w.deps);
    assert.equal(remediated(w, event.metadata.name)?.reason, REASONS.remediated);
    assert.equal(corroborated(w, event.metadata.name)?.status, "True");
    assert.equal(corroborated(w, event.metadata.name)?.reason, REASONS.leaseStale);
  });

  it("Disabled: with the lease check off nothing corroborates, and the condition says so", async () => {
    const probes = fakeProbes((target) => ({ kind: "answered", target, outcome: "connected" }));
    const w = world({ leaseCheck: false, probes });
    const event = panickedNode(w);
    await reconcile(event.metadata.name, w.deps);
    assert.equal(remediated(w, event.metadata.name)?.reason, REASONS.remediated);
    assert.equal(corroborated(w, event.metadata.name)?.status, "False");
    assert.equal(corroborated(w, event.metadata.name)?.reason, REASONS.corroborationDisabled);
    assert.deepEqual(probes.asked, []);
  });
});
