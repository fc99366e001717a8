// What kdump's capture kernel saved of the crashed kernel's log, read back after the reboot. The distributions'
// kdump services each leave one directory per crash under /var/crash: `vmcore-dmesg.txt` (Fedora, RHEL, SUSE,
// and kexec-tools' vmcore-dmesg anywhere) or `dmesg.<timestamp>` (Debian and Ubuntu's kdump-tools, written by
// `makedumpfile --dump-dmesg`). Both are the console's lines, `[    3.220023] Kernel panic - not syncing: …`,
// which netconsole/plain.ts reads.
//
// Pure: names in, logs out; reading directories is the caller's.

/** A file in /var/crash, by its path below that directory (`<crash dir>/<file>`). */
export interface CrashFile {
  readonly path: string;
  readonly bytes: Buffer;
}

export interface KdumpLog {
  /** The file it came from, below /var/crash. */
  readonly path: string;
  readonly lines: readonly string[];
}

const DMESG_FILE = /(^|\/)(vmcore-dmesg\.txt|dmesg\.[0-9]{6,14})$/;

/** Whether a file below /var/crash is a crashed kernel's log (the vmcore itself and everything else is not). */
export function isKdumpDmesg(path: string): boolean {
  return DMESG_FILE.test(path);
}

export function readKdump(files: readonly CrashFile[]): KdumpLog[] {
  return files
    .filter((file) => isKdumpDmesg(file.path))
    .map((file) => ({
      path: file.path,
      lines: file.bytes
        .toString("utf8")
        .split("\n")
        .map((line) => (line.endsWith("\r") ? line.slice(0, -1) : line))
        .filter((line) => line !== ""),
    }))
    .sort((a, b) => a.path.localeCompare(b.path));
}
