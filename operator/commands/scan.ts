// `lastgasp scan [FILE|DIR|-]`: runs the receiver's own detector over a kernel log and prints one JSON object per
// panic, for trying patterns on real logs. A directory is read as pstore records (/sys/fs/pstore, or one record's
// directory in systemd-pstore's archive): each kept dump is scanned, and printed with where it came from.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { readPstore, SKIPPED_WHY } from "../lastwords/pstore.ts";
import type { Command } from "./command.ts";
import { describeSettings, oneOf, resolveSettings, type Setting } from "../config/settings.ts";
import { receiverSettings } from "../config/receiver.ts";
import { defaultPatternsFile, loadPatterns } from "../panics/detector/patterns.ts";
import { scanLog } from "../panics/scan.ts";
import type { Detection } from "../panics/detector/detector.ts";
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
  usage: `Usage: lastgasp scan [options] [FILE|DIR|-]\n\nPrints one JSON object per panic: firstLine, reason, cause, release, signature (id, title, kind, frames), contextLines. A DIR is read as pstore records (/sys/fs/pstore, or a record's directory under /var/lib/systemd/pstore): each panic also says which dump (backend, reason, number, files) it came from.\n\n${describeSettings(scanSettings)}`,
  run: (args) => Promise.resolve(scan(args)),
};

function scan(args: string[]): number {
  try {
    const { values, positionals } = resolveSettings(scanSettings, args, {});
    if (positionals.length > 1) throw new Error("expected at most one FILE");
    const file = positionals[0] ?? "-";
    const patterns = loadPatterns(values.patternsFile === "" ? defaultPatternsFile : values.patternsFile);
    const options = {
      contextLines: values.contextLines,
      quietMs: 0,
      deadlineMs: 0,
      duplicateWindowMs: values.duplicateWindowSeconds * 1000,
    };
    const print = (d: Detection, from: object = {}) => {
      const out = {
        firstLine: d.firstLine,
        reason: d.reason,
        ...(d.cause === undefined ? {} : { cause: d.cause }),
        ...(d.release === undefined ? {} : { release: d.release }),
        signature: crashSignature(d),
        ...from,
        contextLines: d.contextLines,
      };
      process.stdout.write(`${JSON.stringify(out, null, values.format === "pretty" ? 2 : undefined)}\n`);
    };
    if (file !== "-" && statSync(file).isDirectory()) {
      for (const { dump, detection } of scanPstore(file, (log) => scanLog(log, patterns, options))) {
        print(detection, {
          pstore: { backend: dump.backend, reason: dump.reason, dump: dump.dump, files: dump.files },
        });
      }
      return 0;
    }
    for (const d of scanLog(readFileSync(file === "-" ? 0 : file, "utf8"), patterns, options)) print(d);
    return 0;
  } catch (err) {
    return reportStartFailure("scan", err);
  }
}

/** Every panic in the pstore records of `dir`; what cannot be read is named on stderr, never silently passed over. */
function scanPstore(dir: string, scan: (log: string) => Detection[]) {
  const files = readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => ({ name: entry.name, bytes: readFileSync(join(dir, entry.name)) }));
  const { dumps, skipped } = readPstore(files);
  for (const s of skipped.filter((s) => s.why !== "not-dmesg"))
    process.stderr.write(`lastgasp scan: skipped ${join(dir, s.name)}: ${SKIPPED_WHY[s.why]}\n`);
  return dumps.flatMap((dump) => scan(dump.lines.join("\n")).map((detection) => ({ dump, detection })));
}
