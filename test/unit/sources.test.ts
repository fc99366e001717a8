// The source table keeps sources in order of when they were last heard to within an epoch, without moving an
// entry on every packet: idle eviction must still be exact, and eviction to make room must take the oldest.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SourceTable } from "../../operator/receiver/thread/sources.ts";

function table(maxSources: number, idleMs: number, evicted: string[] = []) {
  return new SourceTable<{ lastSeenMs: number }>({
    maxSources,
    idleMs,
    create: (_address, nowMs) => ({ lastSeenMs: nowMs }),
    onEvicted: (address) => evicted.push(address),
  });
}

describe("SourceTable", () => {
  it("evicts exactly the sources idle for idleMs, also those heard earlier in the same epoch", () => {
    const t = table(100, 600_000);
    t.touch("a", 1_000_000);
    t.touch("b", 1_000_400);
    t.touch("a", 1_000_700); // same epoch as its first packet: a is not moved
    assert.deepEqual(
      t.evictIdle(1_600_400).map(([address]) => address),
      ["b"],
      "b idle for exactly 600 s; a heard 300 ms later",
    );
    assert.deepEqual(t.evictIdle(1_600_699), []);
    assert.deepEqual(
      t.evictIdle(1_600_700).map(([address]) => address),
      ["a"],
    );
  });

  it("keeps a source that is heard steadily however long it lives", () => {
    const t = table(100, 10_000);
    for (let now = 0; now <= 60_000; now += 100) {
      t.touch("steady", now);
      if (now === 0) t.touch("quiet", now);
      t.evictIdle(now);
    }
    assert.ok(t.peek("steady") !== undefined);
    assert.equal(t.peek("quiet"), undefined);
  });

  it("makes room by evicting the least recently heard source, to within an epoch", () => {
    const evicted: string[] = [];
    const t = table(3, 600_000, evicted);
    t.touch("a", 0);
    t.touch("b", 1000);
    t.touch("c", 2000);
    t.touch("a", 3000); // a moves behind c
    t.touch("d", 4000);
    t.touch("e", 5000);
    assert.deepEqual(evicted, ["b", "c"]);
    assert.deepEqual(
      [...t.entries()].map(([address]) => address),
      ["a", "d", "e"],
    );
  });
});
