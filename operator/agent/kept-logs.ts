// Where a node keeps the kernel's last words across a reboot, read at the agent's start: pstore's live
// filesystem (/sys/fs/pstore), systemd-pstore's archive (/var/lib/systemd/pstore/<record>/, where it moves the
// records at boot) and kdump's crash directories (/var/crash/<crash>/). Each readable kernel log comes back with
// where it was read and when it was written; what cannot be read is named, never silently passed over.
import { readdirSync, readFileSync, statSync, type Dirent } from "node:fs";
import { join } from "node:path";
import type { PanicSource } from "../api/kernelpanicevent.ts";
import { isKdumpDmesg, readKdump } from "../lastwords/kdump.ts";
import { readPstore, SKIPPED_WHY } from "../lastwords/pstore.ts";

/** One crashed boot's log, as a node kept it. */
export interface KeptLog {
  readonly source: Exclude<PanicSource, "netconsole">;
  /** The files it was read from (absolute paths), for the log and for erasing. */
  readonly files: readonly string[];
  /** Console lines, oldest first. */
  readonly lines: readonly string[];
  /** When its newest file was written: for pstore the record's own time, the panic's. */
  readonly writtenAtMs: number;
  /** Read from pstore's own filesystem, where removing the files frees the backend (never an archive's copy). */
  readonly inPstoreFs: boolean;
}

export interface LastWordsPlaces {
  /** pstore's filesystem (flat: one file per record part). */
  readonly pstoreDir: string;
  /** systemd-pstore's archive: each directory in it holds one record's files. */
  readonly pstoreArchiveDir: string;
  /** kdump's crash directory; each directory in it is one crash. */
  readonly kdumpDir: string;
}

/** Larger files are not a kernel's dmesg record (a ramoops record is a few KiB, a vmcore-dmesg under a MiB). */
export const MAX_FILE_BYTES = 4 * 1024 * 1024;
/** Directories read in each place at most (a crash loop leaves one per boot). */
export const MAX_DIRECTORIES = 64;

export function readLastWords(places: LastWordsPlaces): { logs: KeptLog[]; problems: string[] } {
  const logs: KeptLog[] = [];
  const problems: string[] = [];
  logs.push(...pstoreLogs(places.pstoreDir, true, problems));
  for (const dir of subdirectories(places.pstoreArchiveDir, problems)) logs.push(...pstoreLogs(dir, false, problems));
  for (const dir of subdirectories(places.kdumpDir, problems)) logs.push(...kdumpLogs(dir, problems));
  return { logs, problems };
}

function pstoreLogs(dir: string, inPstoreFs: boolean, problems: string[]): KeptLog[] {
  const files = readFiles(dir, (name) => name.startsWith("dmesg-"), problems);
  const { dumps, skipped } = readPstore(files.map((f) => ({ name: f.name, bytes: f.bytes })));
  for (const s of skipped) problems.push(`${join(dir, s.name)}: ${SKIPPED_WHY[s.why]}`);
  const written = new Map(files.map((f) => [f.name, f.mtimeMs]));
  return dumps.map((dump) => ({
    source: "pstore",
    files: dump.files.map((name) => join(dir, name)),
    lines: dump.lines,
    writtenAtMs: Math.max(...dump.files.map((name) => written.get(name) ?? 0)),
    inPstoreFs,
  }));
}

function kdumpLogs(dir: string, problems: string[]): KeptLog[] {
  const files = readFiles(dir, (name) => isKdumpDmesg(name), problems);
  const written = new Map(files.map((f) => [f.name, f.mtimeMs]));
  return readKdump(files.map((f) => ({ path: f.name, bytes: f.bytes }))).map((log) => ({
    source: "kdump",
    files: [join(dir, log.path)],
    lines: log.lines,
    writtenAtMs: written.get(log.path) ?? 0,
    inPstoreFs: false,
  }));
}

function subdirectories(dir: string, problems: string[]): string[] {
  const entries = list(dir, problems);
  const dirs = entries.filter((e) => e.isDirectory()).map((e) => join(dir, e.name));
  if (dirs.length > MAX_DIRECTORIES)
    problems.push(`${dir}: ${dirs.length} directories, read the newest ${MAX_DIRECTORIES} by name`);
  return dirs.sort().slice(-MAX_DIRECTORIES);
}

function readFiles(
  dir: string,
  wanted: (name: string) => boolean,
  problems: string[],
): { name: string; bytes: Buffer; mtimeMs: number }[] {
  const files: { name: string; bytes: Buffer; mtimeMs: number }[] = [];
  for (const entry of list(dir, problems)) {
    if (!entry.isFile() || !wanted(entry.name)) continue;
    const path = join(dir, entry.name);
    try {
      const stat = statSync(path);
      if (stat.size > MAX_FILE_BYTES) {
        problems.push(`${path}: ${stat.size} bytes, more than ${MAX_FILE_BYTES}: not a kernel log record`);
        continue;
      }
      files.push({ name: entry.name, bytes: readFileSync(path), mtimeMs: stat.mtimeMs });
    } catch (err) {
      problems.push(`${path}: ${(err as Error).message}`);
    }
  }
  return files;
}

function list(dir: string, problems: string[]): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    // A node without pstore or kdump is usual: only a place that exists and cannot be read is a problem.
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") problems.push(`${dir}: ${(err as Error).message}`);
    return [];
  }
}
