// One pass over what the node kept: read pstore and kdump (last-words.ts), find each log's panic with the
// receiver's detector (recovered-panic.ts), report the new ones (last-words-reporter.ts). Run at the agent's
// start, and again while a report failed (the API unreachable at boot is usual).
import type { Logger } from "../log.ts";
import type { DetectorOptions } from "../panics/detector/detector.ts";
import type { DetectionPatterns } from "../panics/detector/patterns.ts";
import { readLastWords, type LastWordsPlaces } from "./kept-logs.ts";
import { reportRecovered, type EventSink, type ReportResult } from "./last-words-reporter.ts";
import { recoverPanic, type RecoveringNode, type RecoveredPanic } from "./recovered-panic.ts";
import type { ReportedRecords } from "./reported-records.ts";

export interface RecoverDeps {
  readonly places: LastWordsPlaces;
  readonly node: RecoveringNode;
  readonly detection: { readonly patterns: DetectionPatterns; readonly options: DetectorOptions };
  readonly sink: EventSink;
  readonly reported: Pick<ReportedRecords, "has" | "add">;
  readonly erasePstore: boolean;
  readonly log: Logger;
}

export interface RecoverResult extends ReportResult {
  /** Logs read (each one crashed boot's, or an Oops dump). */
  readonly logs: number;
  /** Files that could not be read, or were not a kernel's log. */
  readonly problems: number;
}

export async function recoverLastWords(deps: RecoverDeps): Promise<RecoverResult> {
  const { logs, problems } = readLastWords(deps.places);
  for (const problem of problems) deps.log.warn("Skipped a kept kernel log", { problem });
  const panics = logs
    .map((log) => recoverPanic(log, deps.node, deps.detection))
    .filter((p): p is RecoveredPanic => p !== undefined);
  const result = await reportRecovered(panics, deps);
  return { ...result, logs: logs.length, problems: problems.length };
}
