// Where a panic's record waits when the receiver must stop before the API server took it: at shutdown, every
// KernelPanicEvent still unwritten is written as a file to the spool directory (the chart mounts a volume there);
// the next receiver started on that directory records them first, and deletes each file once the API server has
// the event. Nothing pending is only logged. The files are the receiver's own: at most `maxFiles` are read back,
// each checked for the shape of an event; anything else is moved aside as `<name>.rejected`, never trusted.
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { API_VERSION, KIND, type KernelPanicEvent } from "../../api/kernelpanicevent.ts";
import type { CreateResult } from "../../kube/writer.ts";
import type { Logger } from "../../log.ts";
import type { EventSink } from "./recorder.ts";

const SUFFIX = ".json";

export class Spool {
  private readonly dir: string;
  private readonly maxFiles: number;
  private readonly log: Logger;
  /** Names read back at start and not yet confirmed written. */
  private readonly loaded = new Set<string>();

  constructor(dir: string, maxFiles: number, log: Logger) {
    this.dir = dir;
    this.maxFiles = maxFiles;
    this.log = log;
  }

  /** Writes each event to its own file (written whole, then renamed: a crash leaves no half file). */
  async save(events: readonly KernelPanicEvent[]): Promise<number> {
    if (events.length === 0) return 0;
    await mkdir(this.dir, { recursive: true });
    let saved = 0;
    for (const event of events) {
      const file = join(this.dir, `${event.metadata.name}${SUFFIX}`);
      try {
        await writeFile(`${file}.tmp`, JSON.stringify(event));
        await rename(`${file}.tmp`, file);
        saved++;
      } catch (err) {
        this.log.error("Could not spool KernelPanicEvent", {
          name: event.metadata.name,
          err,
          event,
        });
      }
    }
    this.log.warn("Spooled unwritten KernelPanicEvents for the next receiver", { dir: this.dir, saved });
    return saved;
  }

  /** The events spooled by an earlier receiver (oldest file names first), at most maxFiles. */
  async load(): Promise<KernelPanicEvent[]> {
    const names = (await readdir(this.dir).catch(() => [] as string[])).filter((n) => n.endsWith(SUFFIX)).sort();
    const events: KernelPanicEvent[] = [];
    for (const name of names.slice(0, this.maxFiles)) {
      const file = join(this.dir, name);
      const event = parseEvent(await readFile(file, "utf8").catch(() => ""));
      if (event === undefined || `${event.metadata.name}${SUFFIX}` !== name) {
        this.log.error("Set aside a spool file that is not a KernelPanicEvent", { file });
        await rename(file, `${file.slice(0, -SUFFIX.length)}.rejected`).catch(() => undefined);
        continue;
      }
      this.loaded.add(event.metadata.name);
      events.push(event);
    }
    if (names.length > this.maxFiles)
      this.log.warn("More spooled KernelPanicEvents than the write queue holds; the rest wait for the next start", {
        dir: this.dir,
        left: names.length - this.maxFiles,
      });
    return events;
  }

  /** The API server has the event: its spool file, if it had one, is done with. */
  async written(name: string): Promise<void> {
    if (!this.loaded.delete(name)) return;
    await rm(join(this.dir, `${name}${SUFFIX}`), { force: true });
  }
}

function parseEvent(text: string): KernelPanicEvent | undefined {
  try {
    const value = JSON.parse(text) as Partial<KernelPanicEvent> | null;
    const ok =
      value?.apiVersion === API_VERSION &&
      value.kind === KIND &&
      typeof value.metadata?.name === "string" &&
      /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(value.metadata.name) &&
      typeof value.spec?.hostIP === "string";
    return ok ? (value as KernelPanicEvent) : undefined;
  } catch {
    return undefined;
  }
}

/** The writer, telling the spool of each event the API server now has (its file, if it had one, is done with). */
export class SpooledSink implements EventSink {
  private readonly writer: EventSink;
  private readonly spool: Spool;

  constructor(writer: EventSink, spool: Spool) {
    this.writer = writer;
    this.spool = spool;
  }

  async createKernelPanicEvent(event: KernelPanicEvent): Promise<CreateResult> {
    const result = await this.writer.createKernelPanicEvent(event);
    await this.spool.written(event.metadata.name);
    return result;
  }
}
