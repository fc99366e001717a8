// The benchmark's outputs: a table on stdout and bench/results/latest.json (one key per scenario, merged with
// the figures already there, so a scenario run alone updates only its own key).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import type { Row } from "./scenario.ts";

export interface ScenarioRecord {
  readonly title: string;
  readonly mode: "quick" | "full";
  readonly finishedAt: string;
  readonly durationSeconds: number;
  readonly figures?: Record<string, unknown>;
  readonly error?: string;
}

export function machine(): Record<string, unknown> {
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    kernel: readFileSync("/proc/sys/kernel/osrelease", "utf8").trim(),
  };
}

export function writeResults(path: string, records: Record<string, ScenarioRecord>): void {
  const previous = existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>) : {};
  const merged = { ...previous, machine: machine(), ...records };
  const ordered = Object.fromEntries(Object.entries(merged).sort(([a], [b]) => order(a) - order(b)));
  writeFileSync(path, `${JSON.stringify(ordered, null, 2)}\n`);
}

const order = (key: string) => (key === "machine" ? 0 : 1 + Number(key.slice(1)));

export function table(sections: { id: string; title: string; rows: readonly Row[] }[]): string {
  const lines: string[][] = [["", "Figure", "Value", "Goal", ""]];
  for (const s of sections) {
    lines.push([s.id, s.title, "", "", ""]);
    for (const r of s.rows) {
      lines.push(["", `  ${r.figure}`, r.value, r.goal ?? "", r.met === undefined ? "" : r.met ? "met" : "MISSED"]);
    }
  }
  const widths = lines[0]!.map((_, c) => Math.max(...lines.map((l) => l[c]!.length)));
  return lines
    .map((l) =>
      l
        .map((cell, c) => cell.padEnd(widths[c]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
