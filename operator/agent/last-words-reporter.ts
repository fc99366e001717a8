// The agent's report of what the node kept: at every start, each panic recovered from pstore or kdump becomes a
// KernelPanicEvent, once. A record already reported (remembered on the node, or its event already there) is not
// reported again; with `erasePstore` a reported record is removed from pstore's filesystem, freeing the backend
// for the next crash (what systemd-pstore does by default after archiving; its archive is never touched). A
// failed create is retried at the next start or pass: nothing is remembered or erased before the API has it.
import { unlinkSync } from "node:fs";
import type { KernelPanicEvent } from "../api/kernelpanicevent.ts";
import type { Logger } from "../log.ts";
import type { RecoveredPanic } from "./recovered-panic.ts";
import type { ReportedRecords } from "./reported-records.ts";

/** Where the events go (ClusterWriter). */
export interface EventSink {
  createKernelPanicEvent(event: KernelPanicEvent): Promise<"created" | "exists">;
}

export interface ReportResult {
  readonly created: number;
  /** Reported before: remembered on the node, or its event already there. */
  readonly known: number;
  readonly failed: number;
}

export interface ReporterDeps {
  readonly sink: EventSink;
  readonly reported: Pick<ReportedRecords, "has" | "add">;
  readonly log: Logger;
  /** Remove a pstore record's files once its event exists. */
  readonly erasePstore: boolean;
  /** Removes one file (unlinkSync; a recorder in tests). */
  readonly unlink?: (path: string) => void;
}

export async function reportRecovered(panics: readonly RecoveredPanic[], deps: ReporterDeps): Promise<ReportResult> {
  let created = 0;
  let known = 0;
  let failed = 0;
  for (const { event, log } of panics) {
    const name = event.metadata.name;
    if (deps.reported.has(name)) {
      known++;
      continue;
    }
    try {
      const result = await deps.sink.createKernelPanicEvent(event);
      if (result === "created") created++;
      else known++;
      deps.log.info("Reported a kernel panic recovered after the reboot", {
        name,
        source: event.spec.source,
        reason: event.spec.reason,
        files: log.files,
        result,
      });
    } catch (err) {
      failed++;
      deps.log.warn("Could not report a recovered kernel panic; trying again later", {
        name,
        files: log.files,
        error: (err as Error).message,
      });
      continue;
    }
    remember(deps, name);
    if (deps.erasePstore && log.inPstoreFs) erase(deps, log.files);
  }
  return { created, known, failed };
}

function remember(deps: ReporterDeps, name: string): void {
  try {
    deps.reported.add(name);
  } catch (err) {
    deps.log.warn("Could not remember a reported panic on the node; its event's name still keeps it single", {
      name,
      error: (err as Error).message,
    });
  }
}

function erase(deps: ReporterDeps, files: readonly string[]): void {
  for (const file of files) {
    try {
      (deps.unlink ?? unlinkSync)(file);
    } catch (err) {
      deps.log.warn("Could not erase a reported pstore record", { file, error: (err as Error).message });
    }
  }
}
