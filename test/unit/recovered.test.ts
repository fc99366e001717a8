// A panic recovered after its node rebooted (spec.source pstore or kdump) is history: reconcile never reads, probes,
// fails pods of or touches the node for it, even when everything about the node says "dead" (here: the lease
// check off, a Node at the panic's address with running pods: what a netconsole panic is remediated on at once).
// It records Remediated=False/Recovered and keeps the event as long as a remediated one.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { reconcile } from "../../operator/reconciler/reconcile.ts";
import { CONDITIONS, REASONS, getCondition } from "../../operator/reconciler/status/conditions.ts";
import { TTL_MS, panickedNode, remediated, touchedNothing, world } from "../harness/reconcile-world.ts";

describe("a recovered panic", () => {
  for (const source of ["pstore", "kdump"] as const) {
    it(`from ${source}: nothing is read of the node or touched; Recovered; kept for the TTL, then deleted`, async () => {
      const w = world();
      const panic = panickedNode(w);
      const event = { ...panic, spec: { ...panic.spec, source } };
      w.store.events.set(event.metadata.name, event);
      const reads: string[] = [];
      w.store.listNodes = () => Promise.reject(new Error(`listNodes: ${reads.push("listNodes")}`));
      w.store.getNode = () => Promise.reject(new Error(`getNode: ${reads.push("getNode")}`));
      w.store.listPodsOnNode = () => Promise.reject(new Error(`listPodsOnNode: ${reads.push("listPodsOnNode")}`));
      const result = await reconcile(event.metadata.name, w.deps);
      assert.deepEqual(reads, []);
      touchedNothing(w);
      const done = remediated(w, event.metadata.name);
      assert.equal(done?.reason, REASONS.recovered);
      assert.equal(done?.status, "False");
      assert.match(done?.message ?? "", new RegExp(`^Recovered from ${source} after the node rebooted`));
      assert.equal(getCondition(w.store.events.get(event.metadata.name)?.status, CONDITIONS.nodeResolved), undefined);
      assert.equal(result.requeueAfterMs, TTL_MS);
      w.advance(TTL_MS);
      assert.deepEqual(await reconcile(event.metadata.name, w.deps), {});
      assert.equal(w.store.events.has(event.metadata.name), false);
      assert.deepEqual(reads, []);
    });
  }

  it("from netconsole (or no source): remediated as before", async () => {
    const w = world();
    const panic = panickedNode(w);
    const event = { ...panic, spec: { ...panic.spec, source: "netconsole" as const } };
    w.store.events.set(event.metadata.name, event);
    await reconcile(event.metadata.name, w.deps);
    assert.equal(remediated(w, event.metadata.name)?.reason, REASONS.remediated);
  });
});
