// The detector against real kernel logs (test/fixtures/kernel-logs): every panic found with its exact
// reason, nothing found where the kernel did not panic — by `scan` and, replayed as netconsole packets in every
// wire mode, by the receiver's ingest path.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { testIngest } from "../harness/ingest.ts";
import { loadPatterns } from "../../operator/panics/detector/patterns.ts";
import type { PanicReport } from "../../operator/receiver/ingest-messages.ts";
import { scanLog } from "../../operator/panics/scan.ts";
import { encodeExtended, encodePlain } from "../../operator/netconsole/encode.ts";
import { kernelLogsDir } from "../harness/kernel-logs.ts";
import { formatSelfTest } from "../../operator/api/selftest.ts";

const fixtures = `${kernelLogsDir()}/`;
const syzkaller = join(fixtures, "syzkaller");
const patterns = loadPatterns();
const detector = { contextLines: 20, quietMs: 200, deadlineMs: 750, duplicateWindowMs: 600_000 };

interface Fixture {
  readonly file: string;
  readonly panicked: boolean;
  readonly log: string;
  /** What follows "not syncing: " on the first panic line, found with plain string search (not our patterns). */
  readonly expectedReason?: string;
}

function loadFixtures(): Fixture[] {
  return readdirSync(syzkaller).map((file) => {
    const text = readFileSync(join(syzkaller, file), "utf8");
    const blank = text.indexOf("\n\n");
    const header = text.slice(0, blank);
    const log = text.slice(blank + 2);
    const marker = "Kernel panic - not syncing: ";
    const at = log.indexOf(marker);
    const expectedReason = at === -1 ? undefined : log.slice(at + marker.length, log.indexOf("\n", at)).trim();
    return {
      file,
      panicked: /^PANICKED: Y$/m.test(header),
      log,
      ...(expectedReason === undefined ? {} : { expectedReason }),
    };
  });
}

const all = loadFixtures();

describe("kernel log fixtures", () => {
  it("holds 69 logs that panicked and 36 that did not", () => {
    assert.equal(all.filter((f) => f.panicked).length, 69);
    assert.equal(all.filter((f) => !f.panicked).length, 36);
  });

  for (const fixture of all) {
    it(`scan ${fixture.file}: ${fixture.panicked ? `one panic, reason "${fixture.expectedReason}"` : "no panic"}`, () => {
      const detections = scanLog(fixture.log, patterns, detector);
      if (!fixture.panicked) {
        assert.deepEqual(detections, []);
        return;
      }
      assert.equal(detections.length, 1);
      assert.equal(detections[0]!.reason, fixture.expectedReason);
      assert.equal(detections[0]!.firstLine, `Kernel panic - not syncing: ${fixture.expectedReason}`);
      assert.ok(detections[0]!.contextLines.includes(detections[0]!.firstLine));
      assert.ok(detections[0]!.contextLines.length <= 20);
    });
  }

  it("scan finds the Netflix blog's panic, with the call trace after it as context", () => {
    const [detection, ...rest] = scanLog(readFileSync(join(fixtures, "netflix-blog.log"), "utf8"), patterns, detector);
    assert.equal(rest.length, 0);
    assert.equal(detection!.reason, "buffer overrun at 0x4ba4c73e73acce54");
    assert.deepEqual(detection!.contextLines.slice(0, 2), [
      "Kernel panic - not syncing: buffer overrun at 0x4ba4c73e73acce54",
      "CPU: 1 PID: 139616 Comm: insmod Kdump: loaded Tainted: G OE",
    ]);
  });
});

function panicLines(log: string): string[] {
  return log.split("\n").filter((l) => l.includes("Kernel panic - not syncing") && !l.includes("end Kernel panic"));
}

/** Panic lines that carry a console timestamp of their own (an untimed copy repeats the last one). */
function timedPanicLines(log: string): number {
  return Math.max(1, new Set(panicLines(log).filter((l) => /^\[\s*\d+\.\d+\]/.test(l))).size);
}

/** Replays a log as one node's netconsole traffic through the receiver's ingest path. */
function ingestReplay(datagrams: Buffer[]): PanicReport[] {
  // No rate limit: a whole log arrives at one instant.
  const { ingest, reports } = testIngest({ detector, ratePerSecond: 1e9, rateBurst: 1e9 });
  for (const d of datagrams) ingest.datagram("10.0.0.7", d, 1000);
  ingest.tick(5000);
  return reports;
}

describe("fixtures replayed as netconsole packets", () => {
  const modes: [string, (lines: string[]) => Buffer[]][] = [
    ["plain", (lines) => encodePlain(lines)],
    ["extended", (lines) => encodeExtended(lines, { extended: true })],
    [
      "extended, release, userdata (fragmented)",
      (lines) =>
        encodeExtended(lines, {
          extended: true,
          release: "6.9.7-lastgasp",
          userdata: Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, "v".repeat(60)])),
        }),
    ],
  ];
  for (const [mode, encode] of modes) {
    it(`${mode}: 69 panics with the exact reason, none elsewhere`, () => {
      for (const fixture of all) {
        const reports = ingestReplay(encode(fixture.log.split("\n")));
        // Re-encoded as extended records, every copy of the panic line gets a sequence number of its own: a log
        // that repeats it (syzkaller appends its report) then holds two records, and two records with different
        // sequence numbers are two panics when nothing ties them to one boot (a spoofed copy must not hide the
        // real one). Plain, an untimed copy repeats the last panic line; a timed one is a panic of its own.
        const copies = mode === "plain" ? timedPanicLines(fixture.log) : panicLines(fixture.log).length;
        assert.equal(reports.length, fixture.panicked ? copies : 0, fixture.file);
        if (fixture.panicked) {
          assert.equal(reports[0]!.reason, fixture.expectedReason, fixture.file);
          assert.equal(reports[0]!.hostIP, "10.0.0.7");
        }
      }
    });
  }

  it("extended, in a stream the agent's self-test anchored: a panic during the panic is the same panic", () => {
    // 479.log: panic() faulted on its way down and printed a second panic line 1.5 s later.
    const log = all.find((f) => f.file === "479.log")!.log.split("\n");
    const selfTest = `[  490.000000] ${formatSelfTest({ node: "node-a", bootId: "0b8e7c38-8b43-4a8b-9a62-64f1c2d1e0aa" })}`;
    const replay = (lines: string[]) => {
      const { ingest, reports } = testIngest({ detector, ratePerSecond: 1e9, rateBurst: 1e9 });
      let atMs = 1000;
      for (const d of encodeExtended(lines, { extended: true })) {
        // Each record heard when the kernel's clock says it was printed, so the stream continues.
        const tsUsec = Number(d.toString("latin1").split(";")[0]!.split(",")[2]);
        atMs = Math.max(atMs, 1000 + (tsUsec - 490_000_000) / 1000);
        ingest.datagram("10.0.0.7", d, atMs);
      }
      ingest.tick(atMs + 5000);
      return reports;
    };
    const anchored = replay([selfTest, ...log]);
    assert.equal(anchored.length, 1);
    assert.equal(anchored[0]!.uptimeMicros, 491_295_634, "the first panic line");
    assert.equal(anchored[0]!.continuity?.kind, "continuous");
    assert.equal(replay(log).length, 2, "not anchored: nothing ties the second line to the first one's boot");
  });

  it("extended with release and userdata: the report carries them, and the sequence number", () => {
    const log =
      "[ 12.500000] BUG: kernel NULL pointer dereference, address: 0000000000000000\n[ 12.600000] Kernel panic - not syncing: Fatal exception";
    const [report] = ingestReplay(
      encodeExtended(log.split("\n"), {
        extended: true,
        release: "6.9.7",
        userdata: { node: "worker-1" },
        firstSequence: 41,
      }),
    );
    assert.equal(report!.release, "6.9.7");
    assert.deepEqual(report!.userdata, { node: "worker-1" });
    assert.equal(report!.sequence, 42);
    assert.equal(report!.uptimeMicros, 12_600_000);
    assert.equal(report!.cause, "BUG: kernel NULL pointer dereference, address: 0000000000000000");
  });
});
