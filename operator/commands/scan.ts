// `lastgasp scan [FILE|-]`: runs the receiver's own detector over a kernel log and prints one JSON object per
// panic, for trying patterns on real logs.
import { readFileSync } from "node:fs";
import type { Command } from "./command.ts";
import { describeSettings, oneOf, resolveSettings, type Setting } from "../config/settings.ts";
import { receiverSettings } from "../config/receiver.ts";
import { defaultPatternsFile, loadPatterns } from "../panics/detector/patterns.ts";
import { scanLog } from "../panics/scan.ts";
import { crashSignature } from "../panics/signature.ts";
import { reportStartFailure } from "./run.ts";

const scanSettings = {
  patternsFile: receiverSettings.patternsFile,
  contextLines: receiverSettings.contextLines,
  duplicateWindowSeconds: receiverSettings.duplicateWindowSeconds,
  format: {
    name: "format",
    description: "json (one object per line) or pretty.",
    default: "json",
    parse: oneOf("json", "pretty"),
  } satisfies Setting<"json" | "pretty">,
};

export const scanCommand: Command = {
  usage: `Usage: lastgasp scan [options] [FILE|-]\n\nPrints one JSON object per panic: firstLine, reason, cause, release, signature (id, title, kind, frames), contextLines.\n\n${describeSettings(scanSettings)}`,
  run: (args) => Promise.resolve(scan(args)),
};

function scan(args: string[]): number {
  try {
    const { values, positionals } = resolveSettings(scanSettings, args, {});
    if (positionals.length > 1) throw new Error("expected at most one FILE");
    const file = positionals[0] ?? "-";
    const log = readFileSync(file === "-" ? 0 : file, "utf8");
    const patterns = loadPatterns(values.patternsFile === "" ? defaultPatternsFile : values.patternsFile);
    const detections = scanLog(log, patterns, {
      contextLines: values.contextLines,
      quietMs: 0,
      deadlineMs: 0,
      duplicateWindowMs: values.duplicateWindowSeconds * 1000,
    });
    for (const d of detections) {
      const out = {
        firstLine: d.firstLine,
        reason: d.reason,
        ...(d.cause === undefined ? {} : { cause: d.cause }),
        ...(d.release === undefined ? {} : { release: d.release }),
        signature: crashSignature(d),
        contextLines: d.contextLines,
      };
      process.stdout.write(`${JSON.stringify(out, null, values.format === "pretty" ? 2 : undefined)}\n`);
    }
    return 0;
  } catch (err) {
    return reportStartFailure("scan", err);
  }
}
