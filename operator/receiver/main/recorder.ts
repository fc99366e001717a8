// Writes each detected panic as a KernelPanicEvent, durably: if the API server is down or throttling, every
// event is retried with exponential backoff (honouring Retry-After) until it is written. The queue is bounded
// and fair between sources: when it is full, the source holding the most entries gives up its newest one, so a
// flood from one source can never push out another node's older panic. Whatever is dropped is logged in full
// and counted, never silently lost.
import type { Logger } from "winston";
import type { KernelPanicEvent } from "../../api/kernelpanicevent.ts";
import type { Cancel, Clock } from "../../clock.ts";
import { classifyError } from "../../kube/errors.ts";
import type { CreateResult } from "../../kube/writer.ts";
import { toKernelPanicEvent } from "./event.ts";
import type { PanicReport } from "../ingest-messages.ts";
import type { ReceiverMetrics } from "../metrics.ts";
import { limitKey } from "../../net/addresses.ts";

function sourceOf(event: KernelPanicEvent): string {
  return limitKey(event.spec.hostIP);
}

export interface EventSink {
  createKernelPanicEvent(event: KernelPanicEvent): Promise<CreateResult>;
}

/** What the gate hands a panic it lets through to: the write queue. */
export interface PanicRecorder {
  record(report: PanicReport): void;
}

export interface RecorderOptions {
  /** This receiver's name, written into each event it records (spec.receivedBy). */
  readonly receivedBy: string;
  readonly maxPending: number;
  readonly concurrency: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
}

interface Entry {
  readonly event: KernelPanicEvent;
  readonly detectedAtMs: number;
  attempts: number;
}

export class Recorder implements PanicRecorder {
  private readonly queue: Entry[] = [];
  private readonly inFlight = new Set<Entry>();
  private stopped = false;
  private readonly idle = new Set<() => void>();
  /** Entries waiting out their backoff before the next attempt. */
  private readonly waiting = new Map<Cancel, Entry>();
  private readonly sink: EventSink;
  private readonly options: RecorderOptions;
  private readonly metrics: ReceiverMetrics;
  private readonly log: Logger;
  private readonly clock: Clock;

  constructor(sink: EventSink, options: RecorderOptions, metrics: ReceiverMetrics, log: Logger, clock: Clock) {
    this.sink = sink;
    this.clock = clock;
    this.options = options;
    this.metrics = metrics;
    this.log = log;
  }

  get pending(): number {
    return this.queue.length + this.inFlight.size + this.waiting.size;
  }

  /** A panic the gate let through, recorded as its KernelPanicEvent. */
  record(report: PanicReport): void {
    this.enqueue(toKernelPanicEvent(report, this.options.receivedBy), report.detectedAtMs);
  }

  /** An event to write: one just detected, or one a previous receiver spooled. */
  enqueue(event: KernelPanicEvent, detectedAtMs: number): void {
    if (this.pending >= this.options.maxPending && !this.makeRoomFor(event)) {
      this.dropFull(event);
      return;
    }
    this.queue.push({ event, detectedAtMs, attempts: 0 });
    this.update();
    this.pump();
  }

  /** Drops the newest waiting entry of the source holding the most, if it holds more than `event`'s source. */
  private makeRoomFor(event: KernelPanicEvent): boolean {
    const counts = new Map<string, number>();
    const entries = [...this.queue, ...this.waiting.values()];
    for (const entry of entries) counts.set(sourceOf(entry.event), (counts.get(sourceOf(entry.event)) ?? 0) + 1);
    let [heaviest, most] = ["", 0];
    for (const [source, count] of counts) if (count > most) [heaviest, most] = [source, count];
    if (most <= (counts.get(sourceOf(event)) ?? 0)) return false;
    const queued = this.queue.findLastIndex((e) => sourceOf(e.event) === heaviest);
    if (queued !== -1) this.dropFull(this.queue.splice(queued, 1)[0]!.event);
    else {
      const [cancel, entry] = [...this.waiting].reverse().find(([, e]) => sourceOf(e.event) === heaviest)!;
      cancel();
      this.waiting.delete(cancel);
      this.dropFull(entry.event);
    }
    return true;
  }

  private dropFull(event: KernelPanicEvent): void {
    this.metrics.drops.inc({ reason: "queue_full" });
    this.log.error("Dropped KernelPanicEvent: the write queue is full", {
      name: event.metadata.name,
      hostIP: event.spec.hostIP,
      event,
      maxPending: this.options.maxPending,
    });
  }

  /**
   * Stops retrying once `graceMs` has passed; resolves with what was still unwritten (each one is logged), the
   * writes still in flight included: whether the API server took those is unknown, and recording one twice is
   * harmless (its name is deterministic).
   */
  async drain(graceMs: number): Promise<KernelPanicEvent[]> {
    if (this.pending > 0) {
      const graceOver = new AbortController();
      await Promise.race([
        new Promise<void>((resolve) => this.idle.add(resolve)),
        this.clock.sleep(graceMs, graceOver.signal),
      ]);
      graceOver.abort();
    }
    this.stopped = true;
    const unwritten = [...this.queue, ...this.waiting.values(), ...this.inFlight];
    for (const cancel of this.waiting.keys()) cancel();
    this.waiting.clear();
    for (const entry of unwritten)
      this.log.error("KernelPanicEvent still unwritten at shutdown", {
        name: entry.event.metadata.name,
        hostIP: entry.event.spec.hostIP,
        event: entry.event,
      });
    this.queue.length = 0;
    this.update();
    return unwritten.map((entry) => entry.event);
  }

  private pump(): void {
    while (!this.stopped && this.inFlight.size < this.options.concurrency && this.queue.length > 0) {
      const entry = this.queue.shift()!;
      this.inFlight.add(entry);
      void this.write(entry).finally(() => {
        this.inFlight.delete(entry);
        this.update();
        this.pump();
      });
    }
  }

  private async write(entry: Entry): Promise<void> {
    entry.attempts++;
    try {
      const result = await this.sink.createKernelPanicEvent(entry.event);
      this.metrics.eventsCreated.inc({ result });
      const signature = entry.event.spec.signature;
      if (result === "created" && signature !== undefined)
        this.metrics.countSignature(signature.id, entry.event.spec.release ?? "unknown");
      this.metrics.detectionToRecord.observe((this.clock.nowMs() - entry.detectedAtMs) / 1000);
      this.log.info(
        result === "created" ? "Created KernelPanicEvent" : "KernelPanicEvent already recorded by another receiver",
        {
          name: entry.event.metadata.name,
          hostIP: entry.event.spec.hostIP,
          reason: entry.event.spec.reason,
          attempts: entry.attempts,
        },
      );
    } catch (err) {
      this.retryLater(entry, err);
    }
  }

  private retryLater(entry: Entry, err: unknown): void {
    const error = classifyError(err);
    if (!error.retryable) {
      this.metrics.drops.inc({ reason: "rejected" });
      this.log.error("KernelPanicEvent refused by the API server; not retrying", {
        name: entry.event.metadata.name,
        hostIP: entry.event.spec.hostIP,
        error: error.message,
        err,
        event: entry.event,
      });
      return;
    }
    this.metrics.writeRetries.inc({ cause: error.class });
    const backoff = Math.min(this.options.maxBackoffMs, this.options.initialBackoffMs * 2 ** (entry.attempts - 1));
    const delay = Math.max(error.retryAfterMs ?? 0, backoff * (0.5 + Math.random() / 2));
    this.log.warn("Retrying KernelPanicEvent write", {
      name: entry.event.metadata.name,
      hostIP: entry.event.spec.hostIP,
      attempt: entry.attempts,
      retryInMs: Math.round(delay),
      error: error.message,
    });
    this.retryIn(entry, delay, this.clock.monotonicMs() + delay);
  }

  /**
   * A timer measures from the start of the event loop's turn, which may be a few milliseconds before now: it is
   * armed again until `dueAtMs` has passed on the monotonic clock, so a retry never comes before Retry-After.
   */
  private retryIn(entry: Entry, delayMs: number, dueAtMs: number): void {
    const cancel = this.clock.setTimeout(() => {
      this.waiting.delete(cancel);
      if (this.stopped) return;
      const leftMs = dueAtMs - this.clock.monotonicMs();
      if (leftMs > 0) {
        this.retryIn(entry, leftMs, dueAtMs);
        return;
      }
      this.queue.push(entry);
      this.pump();
    }, delayMs);
    this.waiting.set(cancel, entry);
  }

  private update(): void {
    this.metrics.pendingWrites.set(this.pending);
    if (this.pending === 0) {
      for (const resolve of this.idle) resolve();
      this.idle.clear();
    }
  }
}
