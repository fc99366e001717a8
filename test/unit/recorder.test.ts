// The recorder's durability rules, with a scripted sink standing in for the API server (pure logic; the real
// API server outage is an integration test).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KernelPanicEvent } from "../../operator/api/kernelpanicevent.ts";
import type { CreateResult } from "../../operator/kube/writer.ts";
import { createLogger } from "../../operator/log.ts";
import { ReceiverMetrics } from "../../operator/receiver/metrics.ts";
import { Recorder } from "../../operator/receiver/main/recorder.ts";
import { ManualClock } from "../harness/clock.ts";

const event = (name: string, hostIP = "10.0.0.1") =>
  ({
    apiVersion: "lastgasp.dev/v1alpha1",
    kind: "KernelPanicEvent",
    metadata: { name },
    spec: { hostIP },
  }) as unknown as KernelPanicEvent;
const apiError = (code: number, headers: Record<string, string> = {}) =>
  Object.assign(new Error(`HTTP ${code}`), { code, headers, body: "{}" });
const options = { receivedBy: "receiver-0", maxPending: 3, concurrency: 2, initialBackoffMs: 5, maxBackoffMs: 20 };
const log = createLogger("silent", "test");

function scriptedSink(clock: ManualClock, script: (name: string, attempt: number) => CreateResult | Error) {
  const attempts = new Map<string, number>();
  const calledAt: number[] = [];
  return {
    attempts,
    calledAt,
    createKernelPanicEvent: (e: KernelPanicEvent) => {
      const n = (attempts.get(e.metadata.name) ?? 0) + 1;
      attempts.set(e.metadata.name, n);
      calledAt.push(clock.monotonicMs());
      const outcome = script(e.metadata.name, n);
      return outcome instanceof Error ? Promise.reject(outcome) : Promise.resolve(outcome);
    },
  };
}

describe("Recorder", () => {
  it("retries unavailable and throttled writes until they succeed, honouring Retry-After", async () => {
    const clock = new ManualClock();
    const sink = scriptedSink(clock, (_name, n) =>
      n === 1 ? apiError(503) : n === 2 ? apiError(429, { "retry-after": "0.2" }) : "created",
    );
    const metrics = new ReceiverMetrics();
    const recorder = new Recorder(sink, options, metrics, log, clock);
    recorder.enqueue(event("a"), clock.nowMs());
    await clock.advanceUntil(() => recorder.pending === 0, 10_000);
    assert.equal(sink.attempts.get("a"), 3);
    assert.ok(sink.calledAt[2]! - sink.calledAt[1]! >= 200, "waited at least Retry-After");
    const retries = (await metrics.writeRetries.get()).values.map((v) => [v.labels.cause, v.value]);
    assert.deepEqual(retries.sort(), [
      ["Throttled", 1],
      ["Unavailable", 1],
    ]);
  });

  it("counts an event another receiver already created as recorded", async () => {
    const clock = new ManualClock();
    const sink = scriptedSink(clock, () => "exists");
    const metrics = new ReceiverMetrics();
    const recorder = new Recorder(sink, options, metrics, log, clock);
    recorder.enqueue(event("b"), clock.nowMs());
    await clock.advance(0);
    assert.equal(recorder.pending, 0);
    assert.deepEqual(
      (await metrics.eventsCreated.get()).values.filter((v) => v.value > 0).map((v) => [v.labels.result, v.value]),
      [["exists", 1]],
    );
  });

  it("bounds the queue: overflow from one source is counted and logged, and never pushes out another's panic", async () => {
    const clock = new ManualClock();
    const sink = scriptedSink(clock, () => apiError(503));
    const metrics = new ReceiverMetrics();
    const logged: string[] = [];
    const sources: (string | undefined)[] = [];
    const recorder = new Recorder(
      sink,
      options,
      metrics,
      {
        error: (message: string, meta: { name: string; hostIP?: string }) =>
          logged.push(`${message}: ${meta.name}`) && sources.push(meta.hostIP),
        warn: () => undefined,
        info: () => undefined,
      } as unknown as typeof log,
      clock,
    );
    recorder.enqueue(event("real-a", "10.0.0.9"), clock.nowMs());
    for (const name of ["junk1", "junk2", "junk3", "junk4"]) recorder.enqueue(event(name, "10.0.0.1"), clock.nowMs());
    recorder.enqueue(event("real-b", "10.0.0.8"), clock.nowMs());
    assert.equal(recorder.pending, 3);
    assert.deepEqual(
      (await metrics.drops.get()).values.filter((v) => v.value > 0).map((v) => [v.labels.reason, v.value]),
      [["queue_full", 3]],
    );
    assert.deepEqual(
      logged.filter((l) => l.startsWith("Dropped")).map((l) => l.slice(l.lastIndexOf(": ") + 2)),
      ["junk3", "junk4", "junk2"],
      "the flooding source gives up its newest entries, each logged",
    );
    const draining = recorder.drain(50);
    await clock.advance(50);
    const unwritten = (await draining).map((e) => e.metadata.name);
    assert.deepEqual(unwritten.sort(), ["junk1", "real-a", "real-b"], "both real panics were kept to the end");
    assert.ok(
      sources.length > 0 && sources.every((ip) => ip === "10.0.0.1" || ip === "10.0.0.8" || ip === "10.0.0.9"),
      "every line names its source",
    );
    const logs = logged.filter((l) => l.startsWith("KernelPanicEvent still unwritten at shutdown"));
    assert.deepEqual(logs.map((l) => l.slice(l.lastIndexOf(": ") + 2)).sort(), ["junk1", "real-a", "real-b"]);
  });

  it("does not retry a write the API server refuses as invalid", async () => {
    const clock = new ManualClock();
    const sink = scriptedSink(clock, () => apiError(422));
    const metrics = new ReceiverMetrics();
    const recorder = new Recorder(sink, options, metrics, log, clock);
    recorder.enqueue(event("d"), clock.nowMs());
    await clock.advance(0);
    assert.equal(recorder.pending, 0);
    assert.equal(sink.attempts.get("d"), 1);
    assert.deepEqual(
      (await metrics.drops.get()).values.filter((v) => v.value > 0).map((v) => [v.labels.reason, v.value]),
      [["rejected", 1]],
    );
  });
});
