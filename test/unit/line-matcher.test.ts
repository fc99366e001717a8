// The detector's prefilter must only skip patterns that cannot match: on real kernel logs and on lines made to
// sit at its edges, LineMatcher gives exactly the match that trying every pattern in order gives.
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parsePlainLine } from "../../operator/netconsole/plain.ts";
import { LineMatcher, anchoredLiteral } from "../../operator/panics/detector/line-matcher.ts";
import { loadPatterns } from "../../operator/panics/detector/patterns.ts";
import { kernelLogsDir } from "../harness/kernel-logs.ts";

function everyPattern(patterns: readonly RegExp[], line: string): RegExpExecArray | null {
  for (const pattern of patterns) {
    const match = pattern.exec(line);
    if (match !== null) return match;
  }
  return null;
}

function realLines(): string[] {
  const dir = join(kernelLogsDir(), "syzkaller");
  const files = [join(kernelLogsDir(), "netflix-blog.log"), ...readdirSync(dir).map((f) => join(dir, f))];
  return files.flatMap((file) =>
    readFileSync(file, "latin1")
      .split("\n")
      .map((line) => parsePlainLine(line).text),
  );
}

const EDGE_LINES = [
  "",
  "O",
  "Oops",
  "Oops: 0000 [#1] SMP",
  "oops: lower case",
  "kworker/0:1 invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0",
  " invoked oom-killer: gfp_mask=0x0",
  "stress invoked oom-killer:",
  "Kernel panic - not syncing: Fatal exception",
  "Kernel panic - not syncing:",
  "Kernel panic - not syncingX",
  "---[ end Kernel panic - not syncing: Fatal exception ]---",
  "Rebooting in 10 seconds..",
  "INFO: task kworker:12 blocked for more than 120 seconds.",
  "rcu: INFO: rcu_preempt self-detected stall on CPU",
  "xOops: not at the start",
  "ÖOops: a non-ASCII first character",
  "😀 Kernel panic - not syncing: after an astral character",
];

describe("LineMatcher", () => {
  it("finds the literal every match starts with, and none where a match may start otherwise", () => {
    assert.equal(anchoredLiteral(/^Oops: /), "Oops: ");
    assert.equal(anchoredLiteral(/^INFO: rcu_\w+ (detected|self-detected) stalls?/), "INFO: rcu_");
    assert.equal(anchoredLiteral(/^Kernel panics?/), "Kernel panic");
    assert.equal(anchoredLiteral(/^a?b/), undefined, "a may be absent");
    assert.equal(anchoredLiteral(/^Oops|BUG/), undefined, "top-level alternation");
    assert.equal(anchoredLiteral(/^(?:Oops|BUG)/), undefined);
    assert.equal(anchoredLiteral(/^[|]Oops/), undefined);
    assert.equal(anchoredLiteral(/^Oops/i), undefined, "case-insensitive");
    assert.equal(anchoredLiteral(/^Oops/m), undefined, "^ after any newline");
    assert.equal(anchoredLiteral(/Oops: /), undefined, "not anchored");
  });

  for (const name of ["panic", "panicEnd", "cause"] as const) {
    const patterns = loadPatterns()[name];
    it(`gives exactly what trying every ${name} pattern gives, on real kernel logs and edge lines`, () => {
      const matcher = new LineMatcher(patterns);
      let matched = 0;
      for (const line of [...realLines(), ...EDGE_LINES]) {
        const expected = everyPattern(patterns, line);
        assert.deepEqual(matcher.exec(line), expected, line);
        if (expected !== null) matched++;
      }
      assert.ok(matched > 0, `some line matches a ${name} pattern`);
    });
  }

  it("keeps the configured order, and tests patterns that no prefilter covers on every line", () => {
    const patterns = [/^Oops|Kernel (?<reason>.*)/, /^(?:PANIC|panic) (?<reason>.*)/, /^Kernel (?<reason>p.*)/, /x$/];
    const matcher = new LineMatcher(patterns);
    for (const line of ["Kernel panic", "Kernel x", "PANIC now", "panic now", "Oops", "box", "Kernel box", "K"])
      assert.deepEqual(matcher.exec(line), everyPattern(patterns, line), line);
    assert.equal(matcher.exec("Kernel panic")?.groups?.reason, "panic", "the first pattern in order wins");
  });
});
