import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ApiCaller } from "../../operator/kube/caller.ts";

const throttled = (retryAfter?: string) =>
  Object.assign(new Error("429"), {
    code: 429,
    headers: retryAfter === undefined ? {} : { "retry-after": retryAfter },
    body: "{}",
  });

describe("ApiCaller", () => {
  it("retries 429 after Retry-After, then gives up after the configured retries", async () => {
    const outcomes: string[] = [];
    const caller = new ApiCaller({
      qps: 1000,
      burst: 1000,
      requestTimeoutMs: 1000,
      throttleRetries: 2,
      onResponse: (outcome) => outcomes.push(outcome),
    });
    const calls: number[] = [];
    const result = await caller.call(() => {
      calls.push(Date.now());
      return calls.length < 3 ? Promise.reject(throttled("0.1")) : Promise.resolve("ok");
    });
    assert.equal(result, "ok");
    assert.ok(calls[1]! - calls[0]! >= 100 && calls[2]! - calls[1]! >= 100, "waited Retry-After each time");
    assert.deepEqual(outcomes, ["throttled", "throttled", "ok"]);
    await assert.rejects(
      caller.call(() => Promise.reject(throttled("0"))),
      /429/,
    );
  });

  it("passes other errors straight through, and times out hung requests", async () => {
    const caller = new ApiCaller({ qps: 1000, burst: 1000, requestTimeoutMs: 50, throttleRetries: 5 });
    await assert.rejects(
      caller.call(() => Promise.reject(Object.assign(new Error("nope"), { code: 403 }))),
      /nope/,
    );
    await assert.rejects(
      caller.call(() => new Promise(() => undefined)),
      /timed out after 50 ms/,
    );
  });

  it("limits the request rate to qps after the burst", async () => {
    const caller = new ApiCaller({ qps: 20, burst: 2, requestTimeoutMs: 1000, throttleRetries: 0 });
    const started = Date.now();
    await Promise.all(Array.from({ length: 6 }, () => caller.call(() => Promise.resolve())));
    // 2 at once, then 4 more at 20/s: at least 200 ms.
    assert.ok(Date.now() - started >= 190, `took ${Date.now() - started} ms`);
  });

  it("reports the outcome of every request sent, retries included", async () => {
    const outcomes: string[] = [];
    const caller = new ApiCaller({
      qps: 1000,
      burst: 1000,
      requestTimeoutMs: 1000,
      throttleRetries: 1,
      onResponse: (outcome) => outcomes.push(outcome),
    });
    let calls = 0;
    await caller.call(() => (++calls === 1 ? Promise.reject(throttled("0")) : Promise.resolve()));
    await assert.rejects(caller.call(() => Promise.reject(Object.assign(new Error("gone"), { code: 404 }))));
    assert.deepEqual(outcomes, ["throttled", "ok", "error"]);
  });
});
