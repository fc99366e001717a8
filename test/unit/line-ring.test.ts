// The detector's ring of recent lines, held as bytes: it gives back exactly the lines an array of strings would
// (the last n, oldest first), whatever their lengths and characters, while its buffer grows only as long lines
// need and never past its bound.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LineRing } from "../../operator/receiver/detector/line-ring.ts";

/** A deterministic generator (the run can be repeated from its seed). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
}

const ALPHABET = ["a", "Z", " ", "é", "€", "𝄞", "\uFFFD", "\t", ":", "0"];

describe("LineRing", () => {
  it("gives back the last lines exactly as an array of strings would, for lines of any length and character", () => {
    const next = random(7);
    for (const maxLines of [1, 2, 5, 20]) {
      const ring = new LineRing(maxLines, 4096);
      const model: string[] = [];
      for (let i = 0; i < 3000; i++) {
        const length = next() < 0.05 ? Math.floor(next() * 1024) : Math.floor(next() * 120);
        const line = Array.from({ length }, () => ALPHABET[Math.floor(next() * ALPHABET.length)]!).join("");
        ring.push(line);
        model.push(line);
        if (model.length > maxLines) model.shift();
        assert.equal(ring.length, model.length);
        const n = Math.floor(next() * (maxLines + 2));
        assert.deepEqual(ring.last(n), model.slice(model.length - Math.min(n, model.length)), `after line ${i}`);
      }
      assert.ok(ring.capacityBytes <= maxLines * 4096);
    }
  });

  it("starts small, grows for long lines, and stays within its bound", () => {
    const ring = new LineRing(20, 4096);
    const small = ring.capacityBytes;
    for (let i = 0; i < 100; i++) ring.push("short line");
    assert.equal(ring.capacityBytes, small, "short lines fit the first buffer");
    for (let i = 0; i < 100; i++) ring.push("é".repeat(1024));
    assert.ok(ring.capacityBytes > small);
    assert.ok(ring.capacityBytes <= 20 * 4096);
    assert.deepEqual(ring.last(2), ["é".repeat(1024), "é".repeat(1024)]);
  });

  it("holds nothing when asked for no lines", () => {
    const ring = new LineRing(0, 4096);
    ring.push("a line");
    assert.equal(ring.length, 0);
    assert.deepEqual(ring.last(5), []);
  });

  it("gives its buffer back when released, and a ring given a reused buffer holds only its own lines", () => {
    const first = new LineRing(20, 4096);
    for (let i = 0; i < 20; i++) first.push(`first ${i} ${"x".repeat(600)}`);
    first.release();
    assert.equal(first.length, 0);
    assert.equal(first.capacityBytes, 0);
    const second = new LineRing(20, 4096);
    for (let i = 0; i < 20; i++) second.push(`second ${i} ${"y".repeat(600)}`);
    assert.deepEqual(
      second.last(20),
      Array.from({ length: 20 }, (_, i) => `second ${i} ${"y".repeat(600)}`),
    );
  });
});
