import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { describe, it } from "node:test";
import { forEachLimit, repeatEvery } from "../../operator/concurrency.ts";
import { sendDatagrams } from "../../operator/sender/send.ts";
import { waitFor } from "../harness/wait.ts";
import { ManualClock } from "../harness/clock.ts";

describe("sendDatagrams", () => {
  it("sends in order from the chosen source, telling onSend before each datagram", async () => {
    const receiver = createSocket("udp4");
    const got: { text: string; from: string }[] = [];
    receiver.on("message", (msg, rinfo) => got.push({ text: msg.toString(), from: rinfo.address }));
    await new Promise<void>((resolve) => receiver.bind({ address: "127.0.0.1", port: 0 }, resolve));
    try {
      const told: number[] = [];
      const datagrams = ["a\n", "b\n", "c\n"].map((t) => Buffer.from(t));
      await sendDatagrams(datagrams, {
        to: `127.0.0.1:${receiver.address().port}`,
        from: "127.0.0.77",
        onSend: (i) => told.push(i),
      });
      assert.deepEqual(told, [0, 1, 2]);
      await waitFor(() => got.length === 3, { what: "three datagrams", timeoutMs: 2000 });
      assert.deepEqual(
        got,
        ["a\n", "b\n", "c\n"].map((text) => ({ text, from: "127.0.0.77" })),
      );
    } finally {
      receiver.close();
    }
  });
});

describe("forEachLimit", () => {
  it("visits every item in order with at most `limit` in flight", async () => {
    let inFlight = 0;
    let peak = 0;
    const started: number[] = [];
    await forEachLimit([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      started.push(n);
      peak = Math.max(peak, ++inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight--;
    });
    assert.deepEqual(started, [1, 2, 3, 4, 5, 6, 7]);
    assert.equal(peak, 3);
  });

  it("rejects with the first failure", async () => {
    await assert.rejects(
      forEachLimit([1, 2], 2, (n) => (n === 2 ? Promise.reject(new Error("two")) : Promise.resolve())),
      /two/,
    );
  });
});

describe("repeatEvery", () => {
  it("never overlaps a slow run, passes failures on and keeps going, and stop waits for the run under way", async () => {
    let inFlight = 0;
    let peak = 0;
    let runs = 0;
    const errors: string[] = [];
    let release: () => void = () => undefined;
    const clock = new ManualClock();
    const stop = repeatEvery(
      clock,
      5,
      async () => {
        runs++;
        peak = Math.max(peak, ++inFlight);
        if (runs === 1) await new Promise<void>((resolve) => (release = resolve)); // slower than many intervals
        inFlight--;
        if (runs === 2) throw new Error("second run failed");
      },
      (err) => errors.push((err as Error).message),
    );
    await clock.advance(50);
    assert.equal(runs, 1, "no run started while the first was under way");
    release();
    await clock.advanceUntil(() => runs >= 3, 1000, 5);
    await stop();
    const stoppedAt = runs;
    await clock.advance(30);
    assert.equal(runs, stoppedAt, "no run after stop");
    assert.equal(clock.timers, 0, "its timer is gone");
    assert.equal(peak, 1);
    assert.deepEqual(errors, ["second run failed"]);
    assert.equal(inFlight, 0, "stop waited for the run under way");
  });
});
