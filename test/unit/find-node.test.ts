// Finding the panicked node through the node cache (reconciler/corroboration/find-node.ts), run through reconcile
// against the in-memory store. A synced cache costs one GET, never a LIST; the node it names is read fresh and
// judged on that copy; a cache that lags (a node it has not seen, one deleted since, labels or addresses changed
// since) or has nothing to say costs a LIST, and the decision is the LIST's.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LABELS } from "../../operator/api/keys.ts";
import { reconcile } from "../../operator/reconciler/reconcile.ts";
import { REASONS } from "../../operator/reconciler/status/conditions.ts";
import { node, panickedNode, remediated, touchedNothing, world, type World } from "../harness/reconcile-world.ts";

/** Counts the store's node reads: LISTs and GETs. */
function countReads(w: World): { lists: number; gets: number } {
  const reads = { lists: 0, gets: 0 };
  const listNodes = w.store.listNodes.bind(w.store);
  const getNode = w.store.getNode.bind(w.store);
  w.store.listNodes = () => {
    reads.lists++;
    return listNodes();
  };
  w.store.getNode = (name) => {
    reads.gets++;
    return getNode(name);
  };
  return reads;
}

async function lookups(w: World, source: "cache" | "list"): Promise<number> {
  const metric = await w.deps.metrics.nodeLookups.get();
  return metric.values.find((v) => v.labels.source === source)?.value ?? 0;
}

describe("finding the panicked node through the node cache", () => {
  it("a synced cache finds the node with one GET and no LIST, and remediates it", async () => {
    const w = world();
    for (let i = 0; i < 50; i++) w.store.nodes.push(node(`other-${i}`, `10.0.1.${i}`));
    const event = panickedNode(w);
    const reads = countReads(w);
    await reconcile(event.metadata.name, w.deps);
    assert.equal(remediated(w, event.metadata.name)?.reason, REASONS.remediated);
    assert.deepEqual(reads, { lists: 0, gets: 1 });
    assert.equal(await lookups(w, "cache"), 1);
    assert.equal(await lookups(w, "list"), 0);
  });

  it("lists the Nodes while the cache has nothing to say (not synced, or its watch down)", async () => {
    const w = world();
    const event = panickedNode(w);
    w.nodeCache = undefined;
    const reads = countReads(w);
    await reconcile(event.metadata.name, w.deps);
    assert.equal(remediated(w, event.metadata.name)?.reason, REASONS.remediated);
    assert.deepEqual(reads, { lists: 1, gets: 0 });
    assert.equal(await lookups(w, "list"), 1);
  });

  it("a node the cache has not seen yet is found by a LIST, not refused as NodeNotFound", async () => {
    const w = world();
    w.nodeCache = [node("node-b", "10.0.0.2")];
    const event = panickedNode(w);
    const reads = countReads(w);
    await reconcile(event.metadata.name, w.deps);
    assert.equal(remediated(w, event.metadata.name)?.reason, REASONS.remediated);
    assert.equal(reads.lists, 1);
  });

  it("a node deleted since the cache saw it is refused as a LIST would (NodeNotFound), touching nothing", async () => {
    const w = world();
    const event = panickedNode(w);
    w.nodeCache = [node("node-a", "10.0.0.1")];
    w.store.nodes = [];
    await reconcile(event.metadata.name, w.deps);
    assert.equal(remediated(w, event.metadata.name)?.reason, REASONS.nodeNotFound);
    touchedNothing(w);
  });

  it("a node labelled excluded since the cache saw it is refused: the fresh copy decides", async () => {
    const w = world();
    const event = panickedNode(w);
    w.nodeCache = [node("node-a", "10.0.0.1")];
    w.store.nodes = [node("node-a", "10.0.0.1", { labels: { [LABELS.exclude]: "true" } })];
    await reconcile(event.metadata.name, w.deps);
    assert.equal(remediated(w, event.metadata.name)?.reason, REASONS.nodeExcluded);
    touchedNothing(w);
  });

  it("an IP that moved to another node since the cache saw it: the node that has it now is the one remediated", async () => {
    const w = world();
    w.store.nodes.push(node("node-b", "10.0.0.9"));
    const event = panickedNode(w);
    // The cache still has 10.0.0.1 on node-b (its old address) and has not seen node-a.
    w.nodeCache = [node("node-b", "10.0.0.1")];
    await reconcile(event.metadata.name, w.deps);
    assert.equal(remediated(w, event.metadata.name)?.reason, REASONS.remediated);
    assert.ok(w.store.writes.some((e) => e.includes("node-a")));
    assert.ok(!w.store.writes.some((e) => e.includes("node-b")), "node-b was written");
  });

  it("a refusal the cache would make (a stale exclude label) is checked on a LIST: the panic is not refused", async () => {
    const w = world();
    const event = panickedNode(w);
    w.nodeCache = [node("node-a", "10.0.0.1", { labels: { [LABELS.exclude]: "true" } })];
    await reconcile(event.metadata.name, w.deps);
    assert.equal(remediated(w, event.metadata.name)?.reason, REASONS.remediated);
  });

  it("two nodes with the IP are refused as ambiguous, touching neither", async () => {
    const w = world();
    const event = panickedNode(w);
    w.store.nodes.push(node("node-c", "10.0.0.1"));
    await reconcile(event.metadata.name, w.deps);
    assert.equal(remediated(w, event.metadata.name)?.reason, REASONS.ambiguousNode);
    touchedNothing(w);
  });
});
