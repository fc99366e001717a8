// The panic detector's rules, one by one, with an injected clock.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PanicDetector, type DetectorNotice } from "../../operator/panics/detector/detector.ts";
import { loadPatterns, parsePatterns } from "../../operator/panics/detector/patterns.ts";
import type { KernelRecord } from "../../operator/netconsole/record.ts";

const patterns = loadPatterns();
const options = { contextLines: 8, quietMs: 200, deadlineMs: 750, duplicateWindowMs: 60_000 };
const line = (text: string, extra: Partial<KernelRecord> = {}): KernelRecord => ({ text, extended: false, ...extra });
const PANIC = "Kernel panic - not syncing: Fatal exception";

function detector() {
  const notices: DetectorNotice[] = [];
  return { d: new PanicDetector(patterns, options, (n) => notices.push(n)), notices };
}

describe("PanicDetector", () => {
  it("completes when the context is full, keeping lines before and after the panic line", () => {
    const { d } = detector();
    for (let i = 0; i < 10; i++) assert.deepEqual(d.observe(line(`before ${i}`), 0), []);
    assert.deepEqual(d.observe(line(PANIC), 0), []);
    assert.equal(d.collecting, true);
    assert.deepEqual(d.observe(line("after 0"), 1), []);
    const [done] = d.observe(line("after 1"), 2);
    // 8 lines: 8 - 1 - floor(8/4) = 5 before, the panic line, 2 after.
    assert.deepEqual(done!.contextLines, [
      "before 5",
      "before 6",
      "before 7",
      "before 8",
      "before 9",
      PANIC,
      "after 0",
      "after 1",
    ]);
    assert.equal(done!.reason, "Fatal exception");
    assert.equal(done!.detectedAtMs, 0);
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
