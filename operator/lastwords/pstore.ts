// What the kernel left in pstore at a panic, read back after the reboot. Each backend (ramoops in reserved RAM,
// EFI variables, ACPI ERST, pstore/blk) shows its records in /sys/fs/pstore as `dmesg-<backend>-<id>` (with
// `.enc.z` when the record is compressed and this kernel could not decompress it). A dump is split into parts of
// the backend's record size, each a file opening `<Reason>#<dump> Part<n>`, where Part1 holds the end of the log:
// the dump's text is the parts from the highest number down. Its lines are the console's, with the syslog
// priority: `<0>[    3.220023] Kernel panic - not syncing: …` (netconsole/plain.ts reads them).
//
// Pure: files in, dumps out; reading directories is the caller's.

export interface PstoreFile {
  /** The file's name in /sys/fs/pstore (or in systemd-pstore's archive). */
  readonly name: string;
  readonly bytes: Buffer;
}

/** One kmsg dump: its parts joined in log order. */
export interface PstoreDump {
  /** The backend that kept it: ramoops, efi, erst, pstore_blk… */
  readonly backend: string;
  /** Why the kernel dumped: Panic, Oops, Emergency… */
  readonly reason: string;
  /** The dump's number among this boot's dumps (the kernel's oops count). */
  readonly dump: number;
  /** The files it was read from, Part1 first. */
  readonly files: readonly string[];
  /** The console lines, oldest first, each as the kernel wrote it (`<prio>[ seconds] text`). */
  readonly lines: readonly string[];
}

/** A file that holds no readable dump, and why: for a counted, logged skip, never a silent one. */
export interface PstoreSkipped {
  readonly name: string;
  readonly why: "compressed" | "no-header" | "not-dmesg";
}

/** Why a file was skipped, for people. */
export const SKIPPED_WHY: Readonly<Record<PstoreSkipped["why"], string>> = {
  compressed: "a record this kernel could not decompress (.enc.z)",
  "no-header": "no <Reason>#<n> Part<n> header: not a kmsg dump",
  "not-dmesg": "not a dmesg record",
};

const DMESG_NAME = /^dmesg-(.+)-(\d+)(\.enc\.z)?$/;
const HEADER = /^([A-Za-z][A-Za-z ]*)#(\d+) Part(\d+)$/;

export function readPstore(files: readonly PstoreFile[]): { dumps: PstoreDump[]; skipped: PstoreSkipped[] } {
  const skipped: PstoreSkipped[] = [];
  const parts = new Map<
    string,
    { backend: string; reason: string; dump: number; part: number; file: string; text: string }[]
  >();
  for (const file of files) {
    const name = DMESG_NAME.exec(file.name);
    if (name === null) {
      skipped.push({ name: file.name, why: "not-dmesg" });
      continue;
    }
    if (name[3] !== undefined) {
      skipped.push({ name: file.name, why: "compressed" });
      continue;
    }
    const text = file.bytes.toString("utf8");
    const newline = text.indexOf("\n");
    const header = HEADER.exec((newline === -1 ? text : text.slice(0, newline)).trim());
    if (header === null) {
      skipped.push({ name: file.name, why: "no-header" });
      continue;
    }
    const [, reason = "", dump = "0", part = "0"] = header;
    const backend = name[1]!;
    const key = `${backend}\0${reason}\0${dump}`;
    const entry = {
      backend,
      reason,
      dump: Number(dump),
      part: Number(part),
      file: file.name,
      text: text.slice(newline + 1),
    };
    parts.set(key, [...(parts.get(key) ?? []), entry]);
  }
  const dumps = [...parts.values()].map((group) => joinParts(group));
  dumps.sort((a, b) => a.backend.localeCompare(b.backend) || a.dump - b.dump);
  return { dumps, skipped };
}

function joinParts(
  group: readonly { backend: string; reason: string; dump: number; part: number; file: string; text: string }[],
): PstoreDump {
  const byPart = [...group].sort((a, b) => a.part - b.part);
  const first = byPart[0]!;
  // Part1 is the end of the log: read from the highest part down.
  const text = [...byPart]
    .reverse()
    .map((p) => p.text)
    .join("");
  return {
    backend: first.backend,
    reason: first.reason,
    dump: first.dump,
    files: byPart.map((p) => p.file),
    lines: text.split("\n").filter((line) => line !== ""),
  };
}
