// Stream continuity (panics/continuity.ts): a panic continues the node's stream anchored by its self-test only
// when its sequence number is ahead and its timestamp moved with the receiver's clock. Forgeries that pick their
// sequence number and timestamp without seeing the stream do not continue it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatSelfTest, parseSelfTest } from "../../operator/api/selftest.ts";
import { encodeExtended } from "../../operator/netconsole/encode.ts";
import type { KernelRecord } from "../../operator/netconsole/record.ts";
import { AFTER_PANIC_USEC, MAX_ANCHORS, StreamContinuity, whyBroken } from "../../operator/panics/continuity.ts";
import type { Ingest } from "../../operator/receiver/thread/ingest.ts";
import { testIngest } from "../harness/ingest.ts";
import { random } from "../harness/random.ts";

const BOOT = "3f1e2d4c-5b6a-4798-8a9b-0c1d2e3f4a5b";
const SELF_TEST = formatSelfTest({ node: "worker-1", bootId: BOOT });

function record(seq: number, tsUsec: number, text = "some line"): KernelRecord {
  return { text, extended: true, prio: 4, seq, tsUsec };
}

/** Sends extended records, numbered from `first`, from one node (10.0.0.7) at receiver time `atMs`. */
function sender(ingest: Ingest) {
  return (lines: string[], first: number, atMs: number) => {
    for (const d of encodeExtended(lines, { extended: true, firstSequence: first }))
      ingest.datagram("10.0.0.7", d, atMs);
  };
}

/** A stream anchored at sequence 1000, uptime 5000 s, at receiver time 0. */
function anchored(): StreamContinuity {
  const stream = new StreamContinuity();
  stream.observe(record(1000, 5_000_000_000, SELF_TEST), parseSelfTest(SELF_TEST), 0);
  return stream;
}

describe("StreamContinuity", () => {
  it("a panic after the self-test, its clock moved with the receiver's, continues the anchored stream", () => {
    const stream = anchored();
    // 300 s later (the agent's self-test interval), 2400 records on, 40 ms of print and network delay.
    const verdict = stream.observe(record(3400, 5_300_000_000 - 40_000), undefined, 300_000);
    assert.equal(verdict.kind, "continuous");
    assert.deepEqual(verdict.kind === "continuous" ? verdict.anchor : undefined, { node: "worker-1", bootId: BOOT });
    assert.equal(verdict.kind === "continuous" ? verdict.previousSequence : undefined, 1000);
  });

  it("follows the stream record by record (the oops lines before the panic move it on)", () => {
    const stream = anchored();
    assert.equal(stream.observe(record(1001, 5_010_000_000), undefined, 10_000).kind, "continuous");
    const panic = stream.observe(record(1002, 5_010_000_500), undefined, 10_001);
    assert.equal(panic.kind === "continuous" ? panic.previousSequence : undefined, 1001);
  });

  it("refuses a sequence number not ahead, too far ahead, or a clock that did not move with the receiver's", () => {
    for (const [seq, ts, why] of [
      [1000, 5_001_000_000, /not after 1000/],
      [999, 5_001_000_000, /not after 1000/],
      [2_000_000, 5_001_000_000, /past 1000/],
      [1001, 5_000_000_000, /moved 0 ms .* while 5000 ms passed/],
      [1001, 5_100_000_000, /moved 100000 ms/],
    ] as const) {
      const verdict = anchored().observe(record(seq, ts), undefined, 5000);
      assert.equal(verdict.kind, "broken", `seq ${seq} ts ${ts}`);
      assert.match(verdict.kind === "broken" ? whyBroken(verdict.last, verdict.next) : "", why);
    }
  });

  it("10,000 forgeries with a sequence number and timestamp picked without seeing the stream: none continues it", () => {
    const next = random(28);
    let continued = 0;
    for (let i = 0; i < 10_000; i++) {
      const stream = anchored();
      // Any sequence number a kernel could have reached, any uptime within two days; 0–3 s after the anchor.
      const seq = Math.floor(next() * 100_000);
      const ts = Math.floor(next() * 2 * 86_400 * 1e6);
      if (stream.observe(record(seq, ts), undefined, next() * 3000).kind === "continuous") continued++;
    }
    assert.equal(continued, 0);
  });

  it("a forged record that does not fit leaves the stream where it was, so the real panic still continues it", () => {
    const stream = anchored();
    assert.equal(stream.observe(record(90_000, 1_000_000), undefined, 500).kind, "broken");
    assert.equal(stream.observe(record(1005, 5_001_000_000), undefined, 1000).kind, "continuous");
  });

  it("plain records and streams with no self-test heard say so", () => {
    const stream = new StreamContinuity();
    assert.equal(stream.observe({ text: "x", extended: false, tsUsec: 1 }, undefined, 0).kind, "plain");
    assert.equal(stream.observe(record(5, 5), undefined, 0).kind, "unanchored");
  });

  it("keeps at most MAX_ANCHORS streams: forged self-tests with other boot ids push out the oldest", () => {
    const stream = anchored();
    for (let i = 0; i < MAX_ANCHORS; i++) {
      const forged = formatSelfTest({ node: "worker-1", bootId: BOOT.replace(/^.{8}/, `0000000${i}`) });
      stream.observe(record(50 + i, 60_000_000), parseSelfTest(forged), 10);
    }
    const verdict = stream.observe(record(1001, 5_000_020_000), undefined, 20);
    assert.notEqual(verdict.kind === "continuous" ? verdict.anchor.bootId : undefined, BOOT);
    assert.ok(stream.retainedChars <= MAX_ANCHORS * ("worker-1".length + BOOT.length));
  });

  it("through Ingest: the panic's report carries the continuity of its own record", () => {
    const { ingest, reports } = testIngest();
    const send = sender(ingest);
    send([`[ 5000.000000] ${SELF_TEST}`], 1000, 0);
    send(["[ 5001.000000] Kernel panic - not syncing: real"], 1010, 1000);
    send(["[ 1.000000] Kernel panic - not syncing: forged"], 1011, 1500);
    ingest.drain(2000);
    assert.deepEqual(
      reports.map((r) => [r.reason, r.continuity?.kind]),
      [
        ["real", "continuous"],
        ["forged", "broken"],
      ],
    );
  });

  it("a record continuing the stream AFTER_PANIC_USEC past its panic shows the kernel alive, once", () => {
    const stream = anchored();
    const panic = stream.observe(record(1010, 5_001_000_000), undefined, 1000);
    assert.equal(panic.kind, "continuous");
    if (panic.kind === "continuous") stream.panicked(panic.anchor, panic.position);
    const afterPanic = (seq: number, afterUsec: number) => {
      const verdict = stream.observe(record(seq, 5_001_000_000 + afterUsec), undefined, 1000 + afterUsec / 1000);
      return verdict.kind === "continuous" ? verdict.afterPanic?.seq : "not continuous";
    };
    // The panic's own report: the end trace moments later is no sign of life.
    assert.equal(afterPanic(1011, 2000), undefined);
    assert.equal(afterPanic(1012, AFTER_PANIC_USEC - 1000), undefined);
    assert.equal(afterPanic(1013, AFTER_PANIC_USEC), 1010);
    assert.equal(afterPanic(1014, AFTER_PANIC_USEC + 60_000_000), undefined, "reported once");
  });

  it("a stream without a panic, or a record not continuing it, shows nothing", () => {
    const stream = anchored();
    const quiet = stream.observe(record(1100, 5_100_000_000), undefined, 100_000);
    assert.equal(quiet.kind === "continuous" ? quiet.afterPanic : "not continuous", undefined);
    const panic = stream.observe(record(1101, 5_100_000_100), undefined, 100_000);
    if (panic.kind === "continuous") stream.panicked(panic.anchor, panic.position);
    // A forger's record far ahead in kernel time does not continue the stream, so it proves nothing.
    assert.equal(stream.observe(record(1102, 5_200_000_000), undefined, 100_001).kind, "broken");
  });

  it("through Ingest: the node's next self-test after its panic is reported as life, with the panic's sequence", () => {
    const { ingest, afterPanic } = testIngest();
    const send = sender(ingest);
    send([`[ 5000.000000] ${SELF_TEST}`], 1000, 0);
    send(["[ 5001.000000] Kernel panic - not syncing: forged by one who sees the stream"], 1010, 1000);
    send(["[ 5001.010000] ---[ end Kernel panic - not syncing ]---"], 1011, 1010);
    ingest.tick(1100);
    assert.deepEqual(afterPanic, []);
    send([`[ 5301.000000] ${SELF_TEST}`], 1500, 301_000);
    assert.deepEqual(afterPanic, [
      { node: "worker-1", bootId: BOOT, hostIP: "10.0.0.7", panicSequence: 1010, secondsAfterPanic: 300 },
    ]);
  });
});
