// Panic detection over a whole kernel log (a file, or stdin): the same parser and detector the receiver runs on
// network traffic, fed one console line at a time. Used by `lastgasp scan` to try patterns on real logs, and by
// the agent on the logs a node kept (pstore, kdump). A log is the node's own: one panic per boot (ownLog).
import { parsePlainLine } from "../netconsole/plain.ts";
import { PanicDetector, type Detection, type DetectorOptions } from "./detector/detector.ts";
import type { DetectionPatterns } from "./detector/patterns.ts";

export function scanLog(
  log: string,
  patterns: DetectionPatterns,
  options: DetectorOptions,
  /** The log is read in one instant: every line is taken as heard at this time (0 unless said otherwise). */
  nowMs = 0,
): Detection[] {
  const detector = new PanicDetector(patterns, { ...options, ownLog: true });
  const detections: Detection[] = [];
  for (const raw of log.split("\n")) {
    const line = parsePlainLine(raw.endsWith("\r") ? raw.slice(0, -1) : raw);
    detections.push(...detector.observe({ ...line, extended: false }, nowMs));
  }
  const last = detector.complete();
  if (last !== undefined) detections.push(last);
  return detections;
}
