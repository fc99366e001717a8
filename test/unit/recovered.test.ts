// A panic recovered after its node rebooted (spec.source pstore or kdump) is history: reconcile never reads, probes,
// fails pods of or touches the node for it, even when everything about the node says "dead" (here: the lease
// check off, a Node at the panic's address with running pods: what a netconsole panic is remediated on at once).
// It records Remediated=False/Recovered and keeps the event as long as a remediated one.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { reconcile } from "../../operator/reconciler/reconcile.ts";
import { CONDITIONS, REASONS, getCondition } from "../../operator/reconciler/status/conditions.ts";
import type { KernelPanicEvent } from "../../operator/api/kernelpanicevent.ts";
import {
  HOUR_MS,
  PANIC_AT,
  TTL_MS,
  panicEvent,
  panickedNode,
  remediated,
  touchedNothing,
  world,
  type World,
} from "../harness/reconcile-world.ts";

/** What a node agent creates for a panic its node kept: its own node's name, no status. */
function recoveredEvent(name: string, nodeName: string, atMs: number, uptimeSeconds?: number): KernelPanicEvent {
  const event = panicEvent(name, "10.0.0.1");
  return {
    ...event,
    spec: {
      ...event.spec,
      source: "pstore",
      nodeName,
      detectedTime: new Date(atMs).toISOString(),
      ...(uptimeSeconds === undefined ? {} : { uptimeSeconds }),
    },
  };
}

async function reconcileNew(w: World, event: KernelPanicEvent) {
  w.store.events.set(event.metadata.name, event);
  return reconcile(event.metadata.name, w.deps);
}

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

  it("three of one node within the crash-loop window are a crash loop: said on the event and the Node, no quarantine", async () => {
    const w = world();
    await reconcileNew(w, recoveredEvent("kept-1", "node-a", PANIC_AT));
    await reconcileNew(w, recoveredEvent("kept-2", "node-a", PANIC_AT + HOUR_MS));
    await reconcileNew(w, recoveredEvent("other-node", "node-b", PANIC_AT + HOUR_MS));
    for (const name of ["kept-1", "kept-2", "other-node"])
      assert.equal(getCondition(w.store.events.get(name)?.status, CONDITIONS.crashLoop), undefined, name);
    await reconcileNew(w, recoveredEvent("kept-3", "node-a", PANIC_AT + 2 * HOUR_MS));
    const loop = getCondition(w.store.events.get("kept-3")?.status, CONDITIONS.crashLoop);
    assert.equal(loop?.status, "True");
    assert.match(loop?.message ?? "", /panicked 3 times .*kept-1, kept-2, kept-3.*not quarantined/);
    assert.equal(w.store.events.get("kept-3")?.status?.nodeName, "node-a");
    assert.ok(w.store.writes.includes("event Warning KernelPanicCrashLoop Node/node-a"), w.store.writes.join("\n"));
    assert.equal(remediated(w, "kept-3")?.reason, REASONS.recovered);
    touchedNothing(w);
  });

  it("three of one node spread wider than the window are not a crash loop", async () => {
    const w = world();
    for (const [i, atMs] of [PANIC_AT, PANIC_AT + 20 * HOUR_MS, PANIC_AT + 40 * HOUR_MS].entries())
      await reconcileNew(w, recoveredEvent(`kept-${i}`, "node-a", atMs));
    assert.equal(getCondition(w.store.events.get("kept-2")?.status, CONDITIONS.crashLoop), undefined);
  });

  it("a recovered panic netconsole already recorded: that event notes the confirmation, the copy goes", async () => {
    const w = world();
    const heard = panickedNode(w);
    const withUptime = { ...heard, spec: { ...heard.spec, uptimeSeconds: 15.772791 } };
    w.store.events.set(heard.metadata.name, withUptime);
    await reconcile(heard.metadata.name, w.deps);
    assert.equal(w.store.events.get(heard.metadata.name)?.status?.nodeName, "node-a");
    // Another boot's panic of the same text (a different console timestamp), another node's: not the same panic.
    await reconcileNew(w, recoveredEvent("kept-later", "node-a", PANIC_AT + HOUR_MS, 9.5));
    await reconcileNew(w, recoveredEvent("kept-elsewhere", "node-b", PANIC_AT, 15.772791));
    assert.ok(w.store.events.has("kept-later") && w.store.events.has("kept-elsewhere"));
    assert.equal(w.store.events.get(heard.metadata.name)?.status?.confirmedBy, undefined);
    const result = await reconcileNew(w, recoveredEvent("kept-same", "node-a", PANIC_AT + HOUR_MS, 15.772791));
    assert.deepEqual(result, {});
    assert.equal(w.store.events.has("kept-same"), false);
    const confirmed = w.store.events.get(heard.metadata.name)?.status;
    assert.deepEqual(confirmed?.confirmedBy, ["pstore"]);
    assert.equal(remediated(w, heard.metadata.name)?.reason, REASONS.remediated, "its own status is kept");
  });
});
