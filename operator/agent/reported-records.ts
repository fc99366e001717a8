// Which recovered panics this node already reported, kept in a file on the node (a hostPath the chart mounts) so
// that a restarted agent, or one started after the reconciler merged or expired the event, does not report the
// same record again. Without the file (not writable, not mounted) the events' deterministic names still keep a
// record from being created twice while its event exists.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/** Names remembered at most: far more than a node keeps records (ramoops keeps a handful, /var/crash a few). */
export const MAX_REMEMBERED = 512;

export class ReportedRecords {
  private readonly path: string;
  private readonly names: string[];

  private constructor(path: string, names: string[]) {
    this.path = path;
    this.names = names;
  }

  /** Nothing remembered yet; the first `add` writes `path` whole (over an unreadable file, say). */
  static empty(path: string): ReportedRecords {
    return new ReportedRecords(path, []);
  }

  /** Reads the file; a missing one is an empty record, an unreadable one is an error the caller logs. */
  static load(path: string): ReportedRecords {
    if (path === "") return new ReportedRecords(path, []);
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return new ReportedRecords(path, []);
      throw err;
    }
    const parsed = JSON.parse(text) as unknown;
    if (!Array.isArray(parsed) || !parsed.every((n) => typeof n === "string"))
      throw new Error(`${path}: expected a JSON array of event names`);
    return new ReportedRecords(path, parsed.slice(-MAX_REMEMBERED));
  }

  has(name: string): boolean {
    return this.names.includes(name);
  }

  /** Remembers the name and writes the file whole (a rename: never half written). */
  add(name: string): void {
    if (this.has(name)) return;
    this.names.push(name);
    this.names.splice(0, Math.max(0, this.names.length - MAX_REMEMBERED));
    if (this.path === "") return;
    mkdirSync(dirname(this.path), { recursive: true });
    const next = `${this.path}.next`;
    writeFileSync(next, JSON.stringify(this.names));
    renameSync(next, this.path);
  }
}
