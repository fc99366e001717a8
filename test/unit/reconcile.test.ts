// reconcile() outcome by outcome, in milliseconds: the real decision code (resolve, forgery hold, Lease watch,
// storm guard, pods, node actions, TTL) against an in-memory store behind the narrow reader and writer
// interfaces it is given. What the API server itself does (field selectors, preconditions, dry run) is the
// integration tests' job (test/integration/reconciler*.test.ts); here the store only keeps what was written.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ANNOTATIONS, DISRUPTION_TARGET, LABELS, OUT_OF_SERVICE_TAINT, REASON_CODE } from "../../operator/api/keys.ts";
import { CONDITIONS, REASONS, getCondition } from "../../operator/reconciler/status/conditions.ts";
import type { KernelPanicEvent } from "../../operator/api/kernelpanicevent.ts";
import type { NodeAction } from "../../operator/reconciler/remediation/node.ts";
import { reconcile } from "../../operator/reconciler/reconcile.ts";
import {
  PANIC_AT,
  REFUSED_TTL_MS,
  TTL_MS,
  continuousStream,
  lease,
  node,
  panicEvent,
  panickedNode,
  pod,
  remediated,
  touchedNothing,
  world,
  type World,
} from "../harness/reconcile-world.ts";

const refusals: {
  readonly outcome: string;
  readonly setup: (w: World) => KernelPanicEvent;
  readonly nodeResolved: "True" | "False";
}[] = [
  {
    outcome: REASONS.nodeNotFound,
    nodeResolved: "False",
    setup: (w) => {
      w.store.nodes.push(node("node-a", "10.0.0.1"));
      return panicEvent("kpe", "10.0.0.99");
    },
  },
  {
    outcome: REASONS.ambiguousNode,
    nodeResolved: "False",
    setup: (w) => {
      w.store.nodes.push(node("node-a", "10.0.0.1"), node("node-b", "10.0.0.1"));
      return panicEvent("kpe", "10.0.0.1");
    },
  },
  {
    outcome: REASONS.nodeCreatedAfterPanic,
    nodeResolved: "False",
    setup: (w) => {
      w.store.nodes.push(node("node-a", "10.0.0.1", { createdMs: PANIC_AT + 5000 }));
      return panicEvent("kpe", "10.0.0.1");
    },
  },
  {
    outcome: REASONS.nodeNameMismatch,
    nodeResolved: "False",
    setup: (w) => {
      w.store.nodes.push(node("node-a", "10.0.0.1"));
      return panicEvent("kpe", "10.0.0.1", { node: "node-b" });
    },
  },
  {
    outcome: REASONS.nodeExcluded,
    nodeResolved: "False",
    setup: (w) => {
      w.store.nodes.push(node("node-a", "10.0.0.1", { labels: { [LABELS.exclude]: "true" } }));
      return panicEvent("kpe", "10.0.0.1");
    },
  },
  {
    outcome: REASONS.controlPlaneNode,
    nodeResolved: "False",
    setup: (w) => {
      w.store.nodes.push(node("node-a", "10.0.0.1", { labels: { [LABELS.controlPlane]: "" } }));
      return panicEvent("kpe", "10.0.0.1");
    },
  },
];

describe("reconcile, outcome by outcome", () => {
  for (const c of refusals) {
    it(`refuses with ${c.outcome}, touches nothing, and expires after the refused TTL`, async () => {
      const w = world();
      const event = c.setup(w);
      w.store.pods.set("default/p", pod("p", "node-a"));
      w.store.events.set(event.metadata.name, event);
      const result = await reconcile(event.metadata.name, w.deps);
      const status = w.store.events.get(event.metadata.name)?.status;
      assert.equal(getCondition(status, CONDITIONS.remediated)?.reason, c.outcome);
      assert.equal(getCondition(status, CONDITIONS.remediated)?.status, "False");
      assert.equal(getCondition(status, CONDITIONS.nodeResolved)?.status, c.nodeResolved);
      assert.equal(result.requeueAfterMs, REFUSED_TTL_MS);
      assert.ok(w.store.writes.includes(`event Warning ${c.outcome} KernelPanicEvent/kpe`));
      touchedNothing(w);
    });
  }

  it("NodeAlive: the Lease changed while watched, so nothing is touched and the node is not trusted again", async () => {
    const w = world({ leaseCheck: true });
    const event = panickedNode(w);
    w.store.leases.set("node-a", lease("node-a", "100"));
    const first = await reconcile(event.metadata.name, w.deps);
    assert.equal(remediated(w, event.metadata.name)?.reason, REASONS.waitingForLease);
    assert.ok(first.requeueAfterMs !== undefined && first.requeueAfterMs > 0);
    w.store.leases.set("node-a", lease("node-a", "101")); // the kubelet renewed: alive
    w.advance(first.requeueAfterMs);
    const second = await reconcile(event.metadata.name, w.deps);
    assert.equal(remediated(w, event.metadata.name)?.reason, REASONS.nodeAlive);
    assert.equal(second.requeueAfterMs, REFUSED_TTL_MS);
    assert.ok(w.store.writes.includes("event Warning NodeAlive Node/node-a"));
    touchedNothing(w);
  });

  it("a Lease unchanged for a whole renewal interval means dead: remediated after the wait", async () => {
    const w = world({ leaseCheck: true });
    const event = panickedNode(w);
    w.store.leases.set("node-a", lease("node-a", "100"));
    const first = await reconcile(event.metadata.name, w.deps);
    touchedNothing(w);
    w.advance(first.requeueAfterMs!);
    await reconcile(event.metadata.name, w.deps);
    assert.equal(remediated(w, event.metadata.name)?.reason, REASONS.remediated);
    assert.ok(w.store.writes.includes("deleteNode node-a"));
  });

  it("NoNodeLease: with the lease check on, a node without a Lease is refused", async () => {
    const w = world({ leaseCheck: true });
    const event = panickedNode(w);
    await reconcile(event.metadata.name, w.deps);
    assert.equal(remediated(w, event.metadata.name)?.reason, REASONS.noNodeLease);
    touchedNothing(w);
  });

  it("StormGuard: past the limit the next node waits for approval, and is remediated once approved", async () => {
    const w = world({ stormMaxNodes: 1 });
    const a = panickedNode(w, "node-a", "10.0.0.1");
    const b = panickedNode(w, "node-b", "10.0.0.2");
    await reconcile(a.metadata.name, w.deps);
    assert.equal(remediated(w, a.metadata.name)?.reason, REASONS.remediated);
    const held = await reconcile(b.metadata.name, w.deps);
    assert.equal(remediated(w, b.metadata.name)?.reason, REASONS.stormGuard);
    assert.ok(held.requeueAfterMs !== undefined && held.requeueAfterMs >= 1000);
    assert.ok(!w.store.writes.some((e) => e.includes("node-b-") || e.endsWith(" node-b")), "node-b was touched");
    w.store.events.get(b.metadata.name)!.metadata.annotations = { [ANNOTATIONS.approve]: "true" };
    await reconcile(b.metadata.name, w.deps);
    assert.equal(remediated(w, b.metadata.name)?.reason, REASONS.remediated);
  });

  it("ApprovalRequired: a node whose panics were refused as forged is held", async () => {
    const w = world();
    const event = panickedNode(w);
    w.deps.forgery.refused("node-a", PANIC_AT, "forged-1");
    w.deps.forgery.refused("node-a", PANIC_AT, "forged-2");
    const result = await reconcile(event.metadata.name, w.deps);
    assert.equal(remediated(w, event.metadata.name)?.reason, REASONS.approvalRequired);
    assert.ok(result.requeueAfterMs !== undefined && result.requeueAfterMs > 0);
    touchedNothing(w);
  });

  it("a panic that continued the node's own stream is not held by earlier forgeries (it is still corroborated)", async () => {
    const w = world();
    const recorded = panickedNode(w);
    const event = { ...recorded, spec: { ...recorded.spec, stream: continuousStream("node-a") } };
    w.store.events.set(event.metadata.name, event);
    w.deps.forgery.refused("node-a", PANIC_AT, "forged-1");
    w.deps.forgery.refused("node-a", PANIC_AT, "forged-2");
    await reconcile(event.metadata.name, w.deps);
    assert.equal(remediated(w, event.metadata.name)?.reason, REASONS.remediated);
  });

  it("dry run: every step is computed and reported, only with dry-run writes", async () => {
    const w = world({ dryRun: true });
    const event = panickedNode(w);
    await reconcile(event.metadata.name, w.deps);
    assert.equal(remediated(w, event.metadata.name)?.reason, REASONS.dryRun);
    assert.equal(remediated(w, event.metadata.name)?.status, "False");
    // lastgasp's own record (the event's status) and its Events are written for real: they report.
    const own = (e: string) => e.startsWith("status") || e.startsWith("event");
    const touching = w.store.writes.filter((e) => !own(e));
    assert.ok(touching.length > 0 && touching.every((e) => e.startsWith("dry ")), touching.join("; "));
    assert.equal(w.store.nodes.length, 1);
    assert.equal(w.store.pods.size, 3);
    assert.equal(w.store.impacts.size, 0, "no impact lands in a namespace in a dry run");
  });

  const actions: { action: NodeAction; expect: string | undefined; reason: string; nodeStays: boolean }[] = [
    { action: "delete", expect: "deleteNode node-a", reason: REASONS.nodeDeleted, nodeStays: false },
    {
      action: "taint",
      expect: `taint node-a ${OUT_OF_SERVICE_TAINT.key}`,
      reason: REASONS.nodeTainted,
      nodeStays: true,
    },
    { action: "none", expect: undefined, reason: REASONS.nodeKept, nodeStays: true },
  ];
  for (const a of actions) {
    it(`nodeAction ${a.action}: running pods failed (DisruptionTarget) and deleted, finished ones annotated, node ${a.reason}`, async () => {
      const w = world({ nodeAction: a.action });
      const event = panickedNode(w);
      const result = await reconcile(event.metadata.name, w.deps);
      const status = w.store.events.get(event.metadata.name)!.status!;
      assert.equal(getCondition(status, CONDITIONS.remediated)?.reason, REASONS.remediated);
      assert.equal(getCondition(status, CONDITIONS.nodeRemoved)?.reason, a.reason);
      assert.equal(status.podsFailed, 2);
      assert.equal(status.podsDeleted, 2);
      assert.deepEqual([...w.store.pods.keys()], ["default/node-a-done"]);
      assert.ok(w.store.writes.includes("annotatePod default/node-a-done"));
      // The pods on record before the first deletion; the namespace's impact after the last.
      const at = (prefix: string) => w.store.writes.findIndex((e) => e.startsWith(prefix));
      const lastDelete = w.store.writes.findLastIndex((e) => e.startsWith("deletePod"));
      assert.ok(w.store.podRecordWrites[0]! < at("deletePod"), "recorded before any pod is deleted");
      assert.ok(at("impact default/") > lastDelete, "the namespace's impact after the pods");
      assert.deepEqual(
        w.store.impacts.get(`default/${event.metadata.name}`)?.spec.pods.map((p) => [p.name, p.action]),
        [
          ["node-a-web", "Failed"],
          ["node-a-job", "Failed"],
          ["node-a-done", "Annotated"],
        ],
      );
      assert.equal(w.store.writes.includes("cordon node-a"), a.action !== "none");
      if (a.expect !== undefined) assert.ok(w.store.writes.includes(a.expect), `${a.expect} missing`);
      assert.equal(w.store.nodes.length === 1, a.nodeStays);
      // A kept node tells repair systems why (a deleted one has no conditions left to read).
      assert.equal(w.store.writes.includes("nodeCondition node-a KernelPanic=True"), a.nodeStays);
      if (a.nodeStays) {
        const condition = w.store.nodes[0]!.status?.conditions?.find((c) => c.type === "KernelPanic");
        assert.equal(condition?.reason, "KernelPanic");
        assert.match(condition?.message ?? "", new RegExp(`KernelPanicEvent ${event.metadata.name}`));
        await reconcile(event.metadata.name, w.deps);
        assert.equal(
          w.store.writes.filter((e) => e.startsWith("nodeCondition")).length,
          1,
          "written once, however often the event is reconciled",
        );
      }
      assert.equal(result.requeueAfterMs, TTL_MS);
      assert.equal(status.remediationSeconds, 1);
    });
  }

  it("the DisruptionTarget condition carries the injected clock's time", async () => {
    const w = world({ nodeAction: "none" });
    const event = panickedNode(w);
    let condition: Record<string, string> | undefined;
    const failPod = w.store.failPod.bind(w.store);
    w.store.failPod = async (ns, name, annotations, c) => {
      condition = c;
      return failPod(ns, name, annotations, c);
    };
    await reconcile(event.metadata.name, w.deps);
    assert.equal(condition?.type, DISRUPTION_TARGET);
    assert.equal(condition?.reason, REASON_CODE);
    assert.equal(condition?.lastTransitionTime, new Date(PANIC_AT + 1000).toISOString());
  });

  it("resumes after a crash half way: the next pass finishes, and no pod is failed twice", async () => {
    const w = world();
    const event = panickedNode(w);
    w.store.failOnce = "deletePod default/node-a-job";
    await assert.rejects(reconcile(event.metadata.name, w.deps), /injected failure/);
    assert.equal(remediated(w, event.metadata.name)?.reason, REASONS.inProgress);
    assert.equal(w.store.nodes.length, 1, "the node is still there after the crash");
    await reconcile(event.metadata.name, w.deps);
    assert.equal(remediated(w, event.metadata.name)?.reason, REASONS.remediated);
    assert.equal(w.store.nodes.length, 0);
    assert.deepEqual([...w.store.pods.keys()], ["default/node-a-done"]);
    const failed = w.store.writes.filter((e) => e.startsWith("failPod"));
    assert.equal(new Set(failed).size, failed.length, `a pod was failed twice: ${failed.join(", ")}`);
    assert.equal(w.store.writes.filter((e) => e === "event Warning KernelPanic KernelPanicEvent/kpe-node-a").length, 1);
  });

  // Kill points (issue 28): each ends with a status that says what was really done.
  it("an API outage mid-pods: the next pass adds to what the first did, so every pod is counted once", async () => {
    const w = world();
    const event = panickedNode(w);
    w.store.failOnce = "deletePod default/node-a-job";
    await assert.rejects(reconcile(event.metadata.name, w.deps), /injected failure/);
    await reconcile(event.metadata.name, w.deps);
    const status = w.store.events.get(event.metadata.name)?.status;
    assert.equal(getCondition(status, CONDITIONS.remediated)?.reason, REASONS.remediated);
    assert.deepEqual([status?.podsFailed, status?.podsDeleted], [2, 2]);
    assert.match(
      getCondition(status, CONDITIONS.podsTerminated)?.message ?? "",
      /^2 pods were marked Failed .* and 2 deleted; 1 already finished/,
    );
  });

  it("restarted after it deleted the Node: the event ends Remediated with its counts, not NodeNotFound", async () => {
    const w = world();
    const event = panickedNode(w);
    // Status writes: InProgress, the pods' record, the pods' checkpoint, then Remediated, which the kill prevents.
    w.store.failOnce = `status ${event.metadata.name}`;
    w.store.failOnceAfter = 3;
    await assert.rejects(reconcile(event.metadata.name, w.deps), /injected failure/);
    assert.equal(w.store.nodes.length, 0, "killed after the Node was deleted");
    assert.equal(remediated(w, event.metadata.name)?.reason, REASONS.inProgress);
    w.restart();
    await reconcile(event.metadata.name, w.deps);
    const status = w.store.events.get(event.metadata.name)?.status;
    assert.equal(getCondition(status, CONDITIONS.remediated)?.reason, REASONS.remediated);
    assert.equal(getCondition(status, CONDITIONS.nodeRemoved)?.reason, REASONS.nodeAlreadyGone);
    assert.deepEqual([status?.podsFailed, status?.podsDeleted], [2, 2]);
    // The two it failed and the finished one it annotated, each once across the restart.
    assert.equal(status?.pods?.length, 3);
    assert.equal(new Set(status?.pods?.map((p) => p.uid)).size, 3);
    assert.equal(status?.pods?.filter((p) => p.action === "Failed").length, 2);
  });

  it("restarted mid-pods and the Node back alive: refused saying what was done, the rest left alone, uncordoned", async () => {
    const w = world({ leaseCheck: true });
    const event = panickedNode(w);
    w.store.leases.set("node-a", lease("node-a", "100"));
    const first = await reconcile(event.metadata.name, w.deps);
    w.advance(first.requeueAfterMs!);
    w.store.failOnce = "deletePod default/node-a-job";
    await assert.rejects(reconcile(event.metadata.name, w.deps), /injected failure/);
    assert.equal(w.store.nodes[0]?.spec?.unschedulable, true, "cordoned before the kill");
    w.restart();
    w.store.leases.set("node-a", lease("node-a", "101")); // its kubelet is back
    const watching = await reconcile(event.metadata.name, w.deps);
    w.store.leases.set("node-a", lease("node-a", "102"));
    w.advance(watching.requeueAfterMs!);
    await reconcile(event.metadata.name, w.deps);
    const refused = remediated(w, event.metadata.name);
    assert.equal(refused?.reason, REASONS.nodeAlive);
    assert.doesNotMatch(refused?.message ?? "", /nothing was touched/);
    assert.match(refused?.message ?? "", /remediation had begun .* annotated and cordoned \(now uncordoned\)/);
    assert.equal(w.store.nodes[0]?.spec?.unschedulable, false);
    assert.ok(w.store.pods.has("default/node-a-job"), "the pod it had not finished was left alone");
  });

  it("leaves the event it read as it was (each status written is a new object)", async () => {
    const w = world({ leaseCheck: true });
    const event = panickedNode(w);
    w.store.leases.set("node-a", lease("node-a", "100"));
    const read: KernelPanicEvent[] = [];
    const get = w.store.getKernelPanicEvent.bind(w.store);
    w.store.getKernelPanicEvent = async (name) => {
      const e = await get(name);
      if (e !== undefined) read.push(e);
      return e;
    };
    const first = await reconcile(event.metadata.name, w.deps); // WaitingForLease
    w.advance(first.requeueAfterMs!);
    await reconcile(event.metadata.name, w.deps); // InProgress, then Remediated
    assert.equal(read.length, 2);
    assert.equal(read[0]!.status, undefined, "the first read was changed in place");
    assert.equal(getCondition(read[1]!.status, CONDITIONS.remediated)?.reason, REASONS.waitingForLease);
  });

  it("TTL: a finished event waits out its TTL, then is deleted; a gone event is a no-op", async () => {
    const w = world();
    const event = panickedNode(w);
    await reconcile(event.metadata.name, w.deps);
    const writes = w.store.writes.length;
    w.advance(TTL_MS - 10_000);
    const early = await reconcile(event.metadata.name, w.deps);
    assert.equal(early.requeueAfterMs, 10_000);
    assert.equal(w.store.writes.length, writes, "a finished event is not worked on again");
    w.advance(10_000);
    assert.deepEqual(await reconcile(event.metadata.name, w.deps), {});
    assert.equal(w.store.events.has(event.metadata.name), false);
    assert.deepEqual(await reconcile(event.metadata.name, w.deps), {});
  });

  it("a node that panics three times in a day is quarantined: kept cordoned and tainted, not deleted", async () => {
    const w = world({ nodeAction: "delete" });
    const outcomes: { deleted: boolean; crashLoop: string | undefined }[] = [];
    for (const boot of [1, 2, 3]) {
      // The node registers again after each reboot (a new object with the same name), and panics again.
      w.store.nodes = w.store.nodes.filter((n) => n.metadata?.name !== "node-a");
      const event = panickedNode(w);
      const renamed = { ...event, metadata: { ...event.metadata, name: `kpe-boot-${boot}`, uid: `uid-${boot}` } };
      renamed.spec = { ...event.spec, detectedTime: new Date(PANIC_AT + boot * 3_600_000).toISOString() };
      w.store.events.delete(event.metadata.name);
      w.store.events.set(renamed.metadata.name, renamed);
      w.advance(3_600_000);
      await reconcile(renamed.metadata.name, w.deps);
      const status = w.store.events.get(renamed.metadata.name)!.status!;
      outcomes.push({
        deleted: !w.store.nodes.some((n) => n.metadata?.name === "node-a"),
        crashLoop: getCondition(status, CONDITIONS.crashLoop)?.status,
      });
    }
    assert.deepEqual(outcomes, [
      { deleted: true, crashLoop: undefined },
      { deleted: true, crashLoop: undefined },
      { deleted: false, crashLoop: "True" },
    ]);
    assert.ok(w.store.writes.includes(`taint node-a ${OUT_OF_SERVICE_TAINT.key}`));
    assert.ok(w.store.writes.includes("event Warning KernelPanicCrashLoop Node/node-a"));
    const loop = getCondition(w.store.events.get("kpe-boot-3")!.status, CONDITIONS.crashLoop);
    assert.match(loop?.message ?? "", /panicked 3 times within 24 h \(kpe-boot-1, kpe-boot-2, kpe-boot-3\)/);
  });
});
