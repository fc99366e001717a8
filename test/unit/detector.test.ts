// The panic detector's rules, one by one, with an injected clock.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PanicDetector, type DetectorNotice } from "../../operator/panics/detector/detector.ts";
import { loadPatterns, parsePatterns } from "../../operator/panics/detector/patterns.ts";
import type { KernelRecord } from "../../operator/netconsole/record.ts";
import type { Continuity } from "../../operator/panics/continuity.ts";

const patterns = loadPatterns();
const options = { contextLines: 8, quietMs: 200, deadlineMs: 750, duplicateWindowMs: 60_000 };
const line = (text: string, extra: Partial<KernelRecord> = {}): KernelRecord => ({ text, extended: false, ...extra });
const PANIC = "Kernel panic - not syncing: Fatal exception";

function detector() {
  const notices: DetectorNotice[] = [];
  return { d: new PanicDetector(patterns, options, (n) => notices.push(n)), notices };
}

describe("PanicDetector", () => {
  it("completes when the context is full and the trace reached its task's entry, keeping lines before and after", () => {
    const { d } = detector();
    for (let i = 0; i < 10; i++) assert.deepEqual(d.observe(line(`before ${i}`), 0), []);
    assert.deepEqual(d.observe(line(PANIC), 0), []);
    assert.equal(d.collecting, true);
    assert.deepEqual(d.observe(line(" ext4_map_blocks+0x10/0x20"), 1), []);
    assert.deepEqual(d.observe(line(" ext4_ext_map_blocks+0x1a/0x80"), 2), [], "the context is full");
    assert.deepEqual(d.observe(line(" vfs_read+0x1a/0x80"), 3), [], "the trace goes on");
    const [done] = d.observe(line(" entry_SYSCALL_64_after_hwframe+0x76/0x7e"), 4);
    // 8 lines: 8 - 1 - floor(8/4) = 5 before, the panic line, 2 after.
    assert.deepEqual(done!.contextLines, [
      "before 5",
      "before 6",
      "before 7",
      "before 8",
      "before 9",
      PANIC,
      " ext4_map_blocks+0x10/0x20",
      " ext4_ext_map_blocks+0x1a/0x80",
    ]);
    assert.deepEqual(done!.frames, [
      "ext4_map_blocks",
      "ext4_ext_map_blocks",
      "vfs_read",
      "entry_SYSCALL_64_after_hwframe",
    ]);
    assert.equal(done!.reason, "Fatal exception");
    assert.equal(done!.detectedAtMs, 0);
  });

  it("searches a bounded number of lines past a full context for the signature's frames, keeping none of them", () => {
    const { d } = detector();
    d.observe(line(PANIC), 0);
    let done: ReturnType<PanicDetector["observe"]> = [];
    let followed = 0;
    let heldMost = 0;
    while (done.length === 0 && followed < 1000) {
      done = d.observe(line(`noise ${String(followed++).padStart(4, "0")}`), 0);
      heldMost = Math.max(heldMost, d.retainedChars);
    }
    assert.equal(followed, 100, "gives up after 100 lines without frames");
    assert.equal(done[0]!.contextLines.length, 8);
    // The recent lines and the context: 8 lines each, at most 43 characters (the panic line).
    assert.ok(heldMost <= 2 * 8 * PANIC.length, `what it searched is not held (${heldMost} characters)`);
    const again = detector().d;
    again.observe(line(PANIC), 0);
    for (let i = 0; i < 10; i++) again.observe(line(`noise ${i}`), 0);
    assert.equal(again.observe(line("---[ end Kernel panic - not syncing: Fatal exception ]---"), 0).length, 1);
  });

  it("completes after a quiet period, or at the deadline while lines keep coming", () => {
    const { d } = detector();
    d.observe(line(PANIC), 1000);
    assert.equal(d.poll(1199), undefined);
    assert.equal(d.poll(1200)?.reason, "Fatal exception");

    const busy = detector().d;
    busy.observe(line(PANIC, { tsUsec: 1 }), 0);
    for (let t = 100; t < 600; t += 100) {
      busy.observe(line("noise"), t);
      busy.poll(t);
    }
    busy.observe(line("still noisy"), 740);
    assert.equal(busy.poll(740), undefined, "neither quiet nor late yet");
    assert.ok(busy.poll(750) !== undefined, "the deadline completes it");
  });

  it("the closing ---[ end Kernel panic ]--- marker completes the panic and never starts another", () => {
    const { d, notices } = detector();
    d.observe(line(PANIC), 0);
    const [done] = d.observe(line("---[ end Kernel panic - not syncing: Fatal exception ]---"), 1);
    assert.equal(done!.contextLines.at(-1), "---[ end Kernel panic - not syncing: Fatal exception ]---");
    assert.equal(d.collecting, false);
    assert.deepEqual(notices, []);
  });

  it("one panic per boot: repeats of the panic line are the same panic", () => {
    const { d, notices } = detector();
    d.observe(line(PANIC, { seq: 10, extended: true, prio: 0 }), 0);
    d.complete();
    assert.deepEqual(d.observe(line(PANIC, { seq: 10, extended: true, prio: 0 }), 5), [], "the same packet again");
    assert.deepEqual(d.observe(line(PANIC, { tsUsec: 7 }), 10), [], "plain and extended targets at once");
    assert.deepEqual(d.observe(line(PANIC), 20), [], "a log that repeats the panic line");
    assert.equal(d.collecting, false);
    assert.deepEqual(notices, ["duplicate_panic", "duplicate_panic", "duplicate_panic"]);
  });

  it("a panic after a reboot, or outside the window, is a new panic", () => {
    const { d } = detector();
    d.observe(line(PANIC, { seq: 5000, extended: true, prio: 0 }), 0);
    d.complete();
    d.observe(line("Linux version 6.9.7", { seq: 3, extended: true, prio: 5 }), 30_000);
    d.observe(line(PANIC, { seq: 5001, extended: true, prio: 0 }), 40_000);
    assert.equal(d.complete()?.sequence, 5001);

    const later = detector().d;
    later.observe(line(PANIC), 0);
    later.complete();
    later.observe(line(PANIC), 60_000);
    assert.equal(later.collecting, true, "beyond the duplicate window");
  });

  it("one boot, one panic: a later panic line of the same continued stream, or of an own log, is the same panic", () => {
    const stream = (tsUsec: number): Continuity => ({
      kind: "continuous",
      anchor: { node: "node-a", bootId: "boot-1" },
      previousSequence: 0,
      sinceHeardMs: 0,
      driftMs: 0,
      position: { seq: 0, tsUsec, atMs: 0 },
    });
    const ext = (text: string, seq: number, tsUsec: number) => line(text, { extended: true, prio: 0, seq, tsUsec });
    const { d, notices } = detector();
    d.observe(ext(PANIC, 100, 491_295_634), 0, stream(491_295_634));
    // panic() faulted on its way down and panicked again, 1.5 s later (syzkaller's 479.log shows it).
    d.observe(ext(`${PANIC} in interrupt`, 190, 492_869_878), 1500, stream(492_869_878));
    assert.equal(d.complete()?.uptimeMicros, 491_295_634);
    assert.deepEqual(notices, ["duplicate_panic"]);

    // A panic line nobody can tie to the stream is never taken for its repeat, nor hides the real one after it.
    const forged = detector();
    forged.d.observe(ext(PANIC, 7, 1_000_000), 0, { kind: "unanchored" });
    forged.d.complete();
    forged.d.observe(ext(`${PANIC} in interrupt`, 100, 491_295_634), 10, stream(491_295_634));
    assert.equal(forged.d.complete()?.uptimeMicros, 491_295_634, "the real panic is not hidden");
    assert.deepEqual(forged.notices, []);

    const own = new PanicDetector(patterns, { ...options, ownLog: true });
    own.observe(line(PANIC), 0);
    own.observe(line("Kernel panic - not syncing: Attempted to kill init!"), 0);
    assert.equal(own.complete()?.reason, "Fatal exception", "an own log: the second line is the first panic's");
    own.observe(line("Linux version 6.12.100+deb12-amd64"), 0);
    own.observe(line("Kernel panic - not syncing: Attempted to kill init!"), 0);
    assert.equal(own.complete()?.reason, "Attempted to kill init!", "the next boot's panic is its own");
  });

  it("takes khungtaskd's first blocked task as a hung-task report's cause, and only its stack as frames", () => {
    const { d } = detector();
    for (const text of [
      "INFO: task kworker/u4:5:9381 blocked for more than 143 seconds.",
      "Call Trace:",
      " __schedule+0x8/0x10",
      " synchronize_rcu_expedited+0x8/0x10",
      " fsnotify_mark_destroy_workfn+0x8/0x10",
      "INFO: task syz-executor.3:1217 blocked for more than 143 seconds.",
      " rtnl_lock+0x8/0x10",
      PANIC.replace("Fatal exception", "hung_task: blocked tasks"),
    ])
      d.observe(line(text), 0);
    const done = d.complete()!;
    assert.equal(done.cause, "INFO: task kworker/u4:5:9381 blocked for more than 143 seconds.");
    assert.deepEqual(done.frames, ["__schedule", "synchronize_rcu_expedited", "fsnotify_mark_destroy_workfn"]);
  });

  it("ignores panic lines from a userspace facility in extended mode (written to /dev/kmsg)", () => {
    const { d, notices } = detector();
    assert.deepEqual(d.observe(line(PANIC, { extended: true, prio: 8 + 0, seq: 1 }), 0), []);
    assert.deepEqual(d.observe(line(PANIC, { extended: true, prio: 14, seq: 2 }), 0), []);
    assert.equal(d.collecting, false);
    assert.deepEqual(notices, ["userspace_panic_ignored", "userspace_panic_ignored"]);
    d.observe(line(PANIC, { extended: true, prio: 0, seq: 3 }), 0);
    assert.equal(d.collecting, true, "the kernel facility (prio < 8) triggers");
  });

  it("takes the first header of the last report before the panic as its cause", () => {
    const { d } = detector();
    d.observe(line("WARNING: CPU: 0 PID: 1 at old.c:1 old+0x1"), 0);
    for (let i = 0; i < 20; i++) d.observe(line(`noise ${i}`), 0);
    d.observe(line("BUG: unable to handle page fault for address: ffff"), 0);
    d.observe(line("#PF: supervisor read access in kernel mode"), 0);
    d.observe(line("Oops: 0000 [#1] SMP PTI"), 0);
    d.observe(line(PANIC), 0);
    assert.equal(d.complete()?.cause, "BUG: unable to handle page fault for address: ffff");
  });

  it("tells a reboot's panic under the same sequence number from a repeat by its timestamp", () => {
    const { d, notices } = detector();
    const panic = (tsUsec: number) => line(PANIC, { extended: true, prio: 0, seq: 375, tsUsec });
    d.observe(panic(7_368_761), 0);
    d.observe(panic(7_368_761), 1); // the same record again (a second target)
    assert.deepEqual(notices, ["duplicate_panic"]);
    const first = d.complete();
    d.observe(panic(7_401_220), 20_000); // the guest booted again and printed it as record 375 once more
    assert.equal(d.complete()?.uptimeMicros, 7_401_220);
    assert.equal(first?.uptimeMicros, 7_368_761);
  });

  it("carries the release of the last record, but userdata only from the panic record itself", () => {
    const { d } = detector();
    // A spoofed record naming another node, then the real panic without userdata (an older kernel).
    d.observe(line("hello", { extended: true, prio: 6, seq: 1, release: "6.9.7", userdata: { node: "other" } }), 0);
    d.observe(line(PANIC, { extended: true, prio: 0, seq: 2 }), 0);
    const done = d.complete();
    assert.equal(done?.release, "6.9.7");
    assert.deepEqual(done.userdata, {});
    d.observe(line(PANIC, { extended: true, prio: 0, seq: 900, userdata: { node: "w1" } }), 0);
    assert.deepEqual(d.complete()?.userdata, { node: "w1" });
  });
});

describe("detection patterns", () => {
  it("rejects bad YAML, unknown keys, invalid expressions and a panic pattern without a reason group", () => {
    assert.throws(() => parsePatterns("panic: [", "p.yaml"), /p\.yaml: not valid YAML/);
    assert.throws(() => parsePatterns("panik: []", "p.yaml"), /unknown key\(s\) panik/);
    assert.throws(() => parsePatterns("panic: ['(unclosed']", "p.yaml"), /panic\[0\]: invalid regular expression/);
    assert.throws(() => parsePatterns("panic: ['^Kernel panic']", "p.yaml"), /needs a named group/);
    assert.throws(() => parsePatterns("panic: []", "p.yaml"), /at least one pattern/);
  });

  it("accepts custom patterns", () => {
    const custom = parsePatterns("panic: ['^PANIC: (?<reason>.*)$']");
    const d = new PanicDetector(custom, options);
    d.observe(line("PANIC: custom"), 0);
    assert.equal(d.complete()?.reason, "custom");
  });
});
