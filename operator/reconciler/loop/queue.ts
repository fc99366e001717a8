// A keyed work queue, as client-go's: a key is queued at most once, never processed by two workers at once
// (a key added while it is being processed runs again afterwards), failures are retried with per-key
// exponential backoff (but a TerminalError, as controller-runtime's, is not retried), delayed re-adds are
// supported, and at most `concurrency` keys run at a time. Each run gets a signal, aborted when the queue stops.
import type { Cancel, Clock } from "../../clock.ts";

export interface QueueOptions {
  readonly concurrency: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
}

const MAX_DELAY_MS = 60 * 60 * 1000;

export type Handler = (key: string, signal: AbortSignal) => Promise<{ requeueAfterMs?: number }>;

/** A failure that retrying cannot mend: the key is not retried (until it is added again). */
export class TerminalError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TerminalError";
  }
}

/** Told of each failure: `retryInMs` when the key will be retried, undefined for a TerminalError. */
export type ErrorHandler = (key: string, err: unknown, retryInMs: number | undefined) => void;

export class WorkQueue {
  private readonly pending: string[] = [];
  private readonly queued = new Set<string>();
  /** Keys being handled now, with when their run started (for the liveness check) and how to cancel it. */
  private readonly active = new Map<string, { readonly startedMs: number; readonly abort: AbortController }>();
  /** Keys re-added while active: run again when the current run ends. */
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, Cancel>();
  private readonly options: QueueOptions;
  private readonly handler: Handler;
  private readonly onError: ErrorHandler;
  private stopped = false;
  private readonly idleWaiters: (() => void)[] = [];
  private readonly clock: Clock;

  constructor(options: QueueOptions, handler: Handler, onError: ErrorHandler, clock: Clock) {
    this.clock = clock;
    this.options = options;
    this.handler = handler;
    this.onError = onError;
  }

  get depth(): number {
    return this.pending.length;
  }

  add(key: string): void {
    if (this.stopped) return;
    const cancel = this.timers.get(key);
    if (cancel !== undefined) {
      cancel();
      this.timers.delete(key);
    }
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.pending.push(key);
    this.pump();
  }

  /**
   * Adds the key after `delayMs` unless it is added sooner (the earlier of both wins). Long delays are capped
   * at an hour: the key is then simply looked at again (and timers cannot exceed 24.8 days anyway).
   */
  addAfter(key: string, delayMs: number): void {
    if (this.stopped || this.queued.has(key) || this.timers.has(key)) return;
    const cancel = this.clock.setTimeout(
      () => {
        this.timers.delete(key);
        this.add(key);
      },
      Math.min(delayMs, MAX_DELAY_MS),
    );
    this.timers.set(key, cancel);
  }

  /** How long the longest-running handler has been running (0 when none runs): a stuck reconcile grows it. */
  longestRunningMs(nowMs = this.clock.monotonicMs()): number {
    let oldest = nowMs;
    for (const { startedMs } of this.active.values()) oldest = Math.min(oldest, startedMs);
    return nowMs - oldest;
  }

  /** Stops taking work, cancels the running handlers (their signals) and waits for them to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const { abort } of this.active.values()) abort.abort(new Error("the work queue stopped"));
    for (const cancel of this.timers.values()) cancel();
    this.timers.clear();
    this.pending.length = 0;
    this.queued.clear();
    if (this.active.size > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (!this.stopped && this.active.size < this.options.concurrency && this.pending.length > 0) {
      const key = this.pending.shift()!;
      this.queued.delete(key);
      const run = { startedMs: this.clock.monotonicMs(), abort: new AbortController() };
      this.active.set(key, run);
      void this.run(key, run.abort.signal);
    }
  }

  private async run(key: string, signal: AbortSignal): Promise<void> {
    try {
      const result = await this.handler(key, signal);
      this.failures.delete(key);
      this.finish(key);
      if (result.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
    } catch (err) {
      if (err instanceof TerminalError) {
        this.failures.delete(key);
        this.onError(key, err, undefined);
        this.finish(key);
        return;
      }
      const failures = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, failures);
      const retryInMs = Math.min(this.options.maxBackoffMs, this.options.initialBackoffMs * 2 ** (failures - 1));
      this.onError(key, err, retryInMs);
      this.finish(key);
      this.addAfter(key, retryInMs);
    }
  }

  private finish(key: string): void {
    this.active.delete(key);
    if (this.dirty.delete(key)) this.add(key);
    if (this.active.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    this.pump();
  }
}
