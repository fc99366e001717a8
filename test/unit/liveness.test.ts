// Liveness evidence from one timeline, and the forgery guard. Pure: Leases are plain objects, clocks are numbers.
import type { V1Lease } from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ForgeryGuard } from "../../operator/reconciler/fleet/forgery.ts";
import { LivenessWatch, watchDurationMs } from "../../operator/reconciler/corroboration/lease-liveness.ts";

function lease(resourceVersion: string, renewTime: string, leaseDurationSeconds?: number): V1Lease {
  return {
    metadata: { name: "n", namespace: "kube-node-lease", resourceVersion },
    spec: {
      holderIdentity: "n",
      renewTime: new Date(renewTime),
      ...(leaseDurationSeconds === undefined ? {} : { leaseDurationSeconds }),
    },
  };
}

function watchAt(clock: { ms: number }, marginMs = 5000): LivenessWatch {
  return new LivenessWatch(marginMs, { monotonicMs: () => clock.ms });
}

describe("LivenessWatch", () => {
  it("waits a quarter of the Lease's duration plus the margin, derived from the Lease", () => {
    assert.equal(watchDurationMs(lease("1", "2026-01-01T00:00:00Z", 40), 5000), 15_000);
    assert.equal(watchDurationMs(lease("1", "2026-01-01T00:00:00Z", 100), 2000), 27_000);
    assert.equal(watchDurationMs(lease("1", "2026-01-01T00:00:00Z"), 0), 10_000, "the kubelet's default of 40 s");
  });

  it("calls a node dead only after its Lease stayed unchanged for the whole interval", () => {
    const clock = { ms: 1000 };
    const watch = watchAt(clock);
    const stale = lease("7", "2026-01-01T00:00:00Z");
    const first = watch.observe("e", stale);
    assert.equal(first.kind, "watching");
    assert.equal(first.kind === "watching" && first.first, true);
    clock.ms += 14_999;
    const middle = watch.observe("e", stale);
    assert.equal(middle.kind, "watching");
    assert.equal(middle.kind === "watching" ? middle.remainingMs : 0, 1);
    clock.ms += 1;
    assert.equal(watch.observe("e", stale).kind, "dead");
    assert.equal(watch.watching, 0, "a verdict forgets the observation");
  });

  it("calls a node alive when its Lease changed, whatever the timestamps say", () => {
    for (const renewTime of ["2020-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "2099-01-01T00:00:00Z"]) {
      const clock = { ms: 0 };
      const watch = watchAt(clock);
      watch.observe("e", lease("7", "2026-01-01T00:00:00Z"));
      clock.ms += 10_000;
      // A kubelet whose clock is years behind or ahead renews all the same: only the change counts.
      assert.equal(watch.observe("e", lease("8", renewTime)).kind, "alive", renewTime);
    }
  });

  it("counts any write to the Lease as life, even one that keeps renewTime", () => {
    const clock = { ms: 0 };
    const watch = watchAt(clock);
    watch.observe("e", lease("7", "2026-01-01T00:00:00Z"));
    clock.ms += 20_000;
    assert.equal(watch.observe("e", lease("9", "2026-01-01T00:00:00Z")).kind, "alive");
  });

  it("has no verdict of death without a Lease", () => {
    const watch = watchAt({ ms: 0 });
    assert.equal(watch.observe("e", undefined).kind, "noLease");
  });

  it("keeps one observation per event, bounded, and forgets on request", () => {
    const clock = { ms: 0 };
    const watch = watchAt(clock);
    watch.observe("a", lease("1", "2026-01-01T00:00:00Z"));
    watch.observe("b", lease("2", "2026-01-01T00:00:00Z"));
    assert.equal(watch.watching, 2);
    watch.forget("a");
    assert.equal(watch.watching, 1);
    clock.ms += 15_000;
    assert.equal(watch.observe("a", lease("1", "2026-01-01T00:00:00Z")).kind, "watching", "started again");
    assert.equal(watch.observe("b", lease("2", "2026-01-01T00:00:00Z")).kind, "dead");
  });
});

describe("ForgeryGuard", () => {
  const options = { threshold: 3, windowMs: 60_000, holdMs: 600_000, maxNodes: 100 };

  it("holds a node after `threshold` refusals within the window, until the hold ends", () => {
    const guard = new ForgeryGuard(options);
    assert.equal(guard.refused("n", 0, "e1"), false);
    assert.equal(guard.refused("n", 1000, "e2"), false);
    assert.equal(guard.heldUntil("n", 1000), undefined);
    assert.equal(guard.refused("n", 2000, "e3"), true, "the third refusal makes it suspect");
    assert.equal(guard.refused("n", 3000, "e4"), false, "raised once, not at every refusal");
    assert.equal(guard.heldUntil("n", 3000), 603_000);
    assert.equal(guard.heldUntil("other", 3000), undefined);
    assert.equal(guard.heldUntil("n", 603_000), undefined);
  });

  it("does not count refusals spread wider than the window, or one event twice", () => {
    const guard = new ForgeryGuard(options);
    guard.refused("n", 0, "e1");
    guard.refused("n", 40_000, "e2");
    assert.equal(guard.refused("n", 70_000, "e3"), false, "e1 left the window");
    const again = new ForgeryGuard(options);
    for (let i = 0; i < 5; i++) again.refused("n", i, "same");
    assert.equal(again.heldUntil("n", 10), undefined);
  });

  it("remembers a bounded number of nodes", () => {
    const guard = new ForgeryGuard({ ...options, maxNodes: 2 });
    for (const node of ["a", "b", "c"]) for (let i = 0; i < 3; i++) guard.refused(node, i, `${node}${i}`);
    assert.equal(guard.heldUntil("a", 10), undefined, "the least recently refused node was forgotten");
    assert.deepEqual(
      ["b", "c"].map((node) => guard.heldUntil(node, 10) !== undefined),
      [true, true],
      "the two most recent are held",
    );
  });
});
