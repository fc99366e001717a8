// The ApiCaller's rate limit, timeout and 429 retries, on a clock the test moves.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ApiCaller, type CallerOptions } from "../../operator/kube/caller.ts";
import { ManualClock } from "../harness/clock.ts";

const throttled = (retryAfter?: string) =>
  Object.assign(new Error("429"), {
    code: 429,
    headers: retryAfter === undefined ? {} : { "retry-after": retryAfter },
    body: "{}",
  });

const FAST: CallerOptions = { qps: 1000, burst: 1000, requestTimeoutMs: 1000, throttleRetries: 2 };

describe("ApiCaller", () => {
  it("retries 429 after Retry-After, then gives up after the configured retries", async () => {
    const clock = new ManualClock();
    const outcomes: string[] = [];
    const caller = new ApiCaller({ ...FAST, onResponse: (outcome) => outcomes.push(outcome) }, clock);
    const calls: number[] = [];
    const result = caller.call(() => {
      calls.push(clock.monotonicMs());
      return calls.length < 3 ? Promise.reject(throttled("0.1")) : Promise.resolve("ok");
    });
    await clock.advance(99);
    assert.equal(calls.length, 1, "not before Retry-After");
    await clock.advance(1);
    assert.equal(calls.length, 2);
    await clock.advance(100);
    assert.equal(await result, "ok");
    assert.deepEqual(calls, [0, 100, 200], "waited Retry-After each time");
    assert.deepEqual(outcomes, ["throttled", "throttled", "ok"]);
    const refused = assert.rejects(
      caller.call(() => Promise.reject(throttled("0"))),
      /429/,
    );
    await clock.advance(0);
    await refused;
  });

  it("passes other errors straight through, and times out hung requests", async () => {
    const clock = new ManualClock();
    const caller = new ApiCaller({ ...FAST, requestTimeoutMs: 50, throttleRetries: 5 }, clock);
    await assert.rejects(
      caller.call(() => Promise.reject(Object.assign(new Error("nope"), { code: 403 }))),
      /nope/,
    );
    let outcome = "pending";
    void caller.call(() => new Promise(() => undefined)).catch((err: unknown) => (outcome = (err as Error).message));
    await clock.advance(49);
    assert.equal(outcome, "pending", "not before the timeout");
    await clock.advance(1);
    assert.equal(outcome, "request timed out after 50 ms");
    assert.equal(clock.timers, 0, "the timeout's timer is gone");
  });

  it("limits the request rate to qps after the burst", async () => {
    const clock = new ManualClock();
    const caller = new ApiCaller({ qps: 20, burst: 2, requestTimeoutMs: 1000, throttleRetries: 0 }, clock);
    const sent: number[] = [];
    const all = Promise.all(
      Array.from({ length: 6 }, () =>
        caller.call(() => {
          sent.push(clock.monotonicMs());
          return Promise.resolve();
        }),
      ),
    );
    await clock.advanceUntil(() => sent.length === 6, 1000);
    await all;
    // 2 at once, then 4 more at 20/s: one every 50 ms.
    assert.deepEqual(sent.slice(0, 2), [0, 0]);
    assert.ok(sent[5]! >= 200, `the sixth went at ${sent[5]} ms`);
    for (let i = 3; i < 6; i++) assert.ok(sent[i]! - sent[i - 1]! >= 0, "in order");
  });

  it("reports the outcome of every request sent, retries included", async () => {
    const clock = new ManualClock();
    const outcomes: string[] = [];
    const caller = new ApiCaller(
      { ...FAST, throttleRetries: 1, onResponse: (outcome) => outcomes.push(outcome) },
      clock,
    );
    let calls = 0;
    const retried = caller.call(() => (++calls === 1 ? Promise.reject(throttled("0")) : Promise.resolve()));
    await clock.advance(0);
    await retried;
    await assert.rejects(caller.call(() => Promise.reject(Object.assign(new Error("gone"), { code: 404 }))));
    assert.deepEqual(outcomes, ["throttled", "ok", "error"]);
  });
});
