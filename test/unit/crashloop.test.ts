// The crash-loop count: panics of one node within the window, each event counted once, off at 0.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CrashLoopTracker } from "../../operator/reconciler/fleet/crashloop.ts";

const DAY_MS = 86_400_000;

describe("CrashLoopTracker", () => {
  it("three panics spread over more than the window are no crash loop", () => {
    const tracker = new CrashLoopTracker({ threshold: 3, windowMs: DAY_MS, maxNodes: 100 });
    tracker.panicked("n", 0, "a");
    tracker.panicked("n", DAY_MS / 2, "b");
    tracker.panicked("n", DAY_MS / 2, "b");
    assert.equal(tracker.loop("n"), undefined, "an event read twice counts once");
    tracker.panicked("n", DAY_MS + 1, "c");
    assert.equal(tracker.loop("n"), undefined);
    tracker.panicked("n", DAY_MS + 2, "d");
    assert.deepEqual(tracker.loop("n"), ["b", "c", "d"]);
    const off = new CrashLoopTracker({ threshold: 0, windowMs: DAY_MS, maxNodes: 100 });
    for (const e of ["a", "b", "c", "d"]) off.panicked("n", 0, e);
    assert.equal(off.loop("n"), undefined, "0 turns it off");
  });
});
