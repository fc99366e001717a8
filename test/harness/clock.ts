// A clock the test moves: timers run when the test advances time past them, in order, each followed by the
// promise chains it starts. Unit tests use it instead of waiting on wall time, so a loaded machine cannot make
// them fail.
import type { Cancel, Clock } from "../../operator/clock.ts";

interface Pending {
  readonly id: number;
  atMs: number;
  readonly fn: () => void;
  readonly everyMs?: number;
}

/** Turns of the event loop given to promise chains after each timer (no wall time passes in between). */
const SETTLE_TURNS = 20;

export class ManualClock implements Clock {
  private ms = 0;
  private nextId = 0;
  private readonly pending: Pending[] = [];
  private readonly epochMs: number;

  constructor(start = new Date("2026-01-01T00:00:00Z")) {
    this.epochMs = start.getTime();
  }

  now(): Date {
    return new Date(this.epochMs + this.ms);
  }

  nowMs(): number {
    return this.epochMs + this.ms;
  }

  monotonicMs(): number {
    return this.ms;
  }

  setTimeout(fn: () => void, ms: number): Cancel {
    return this.schedule({ id: this.nextId++, atMs: this.ms + Math.max(0, ms), fn });
  }

  setInterval(fn: () => void, ms: number): Cancel {
    const everyMs = Math.max(1, ms);
    return this.schedule({ id: this.nextId++, atMs: this.ms + everyMs, fn, everyMs });
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted === true) {
        resolve();
        return;
      }
      const cancel = this.setTimeout(resolve, ms);
      signal?.addEventListener(
        "abort",
        () => {
          cancel();
          resolve();
        },
        { once: true },
      );
    });
  }

  /** Timers waiting to run. */
  get timers(): number {
    return this.pending.length;
  }

  /** Moves time forward by `ms`, running every timer due on the way at its own time. */
  async advance(ms: number): Promise<void> {
    const endMs = this.ms + ms;
    for (;;) {
      await settle();
      const next = this.earliest();
      if (next === undefined || next.atMs > endMs) break;
      this.ms = Math.max(this.ms, next.atMs);
      if (next.everyMs === undefined) this.remove(next.id);
      else next.atMs += next.everyMs;
      next.fn();
    }
    this.ms = endMs;
    await settle();
  }

  /**
   * Moves time from timer to timer until `work` settles, and returns its outcome: for code that waits on this
   * clock several times over. Fails when nothing is scheduled and `work` is still pending (it waits on
   * something else), or after `limitMs` of clock time.
   */
  async run<T>(work: Promise<T>, limitMs = 24 * 3_600_000): Promise<T> {
    let settled = false;
    const watched = work.finally(() => {
      settled = true;
    });
    watched.catch(() => undefined);
    const startMs = this.ms;
    for (;;) {
      await settle();
      if (settled) return watched;
      const next = this.earliest();
      if (next === undefined) throw new Error("the work waits on something other than this clock");
      if (next.atMs - startMs > limitMs) throw new Error(`not done after ${limitMs} ms of clock time`);
      await this.advance(Math.max(0, next.atMs - this.ms));
    }
  }

  /** Advances in `stepMs` steps until `done()` holds; fails after `limitMs` of clock time. */
  async advanceUntil(done: () => boolean, limitMs: number, stepMs = 10): Promise<void> {
    for (let passed = 0; !done(); passed += stepMs) {
      if (passed > limitMs) throw new Error(`not done after ${limitMs} ms of clock time`);
      await this.advance(stepMs);
    }
  }

  private schedule(entry: Pending): Cancel {
    this.pending.push(entry);
    return () => {
      this.remove(entry.id);
    };
  }

  private earliest(): Pending | undefined {
    let best: Pending | undefined;
    for (const p of this.pending) if (best === undefined || p.atMs < best.atMs) best = p;
    return best;
  }

  private remove(id: number): void {
    const i = this.pending.findIndex((p) => p.id === id);
    if (i !== -1) this.pending.splice(i, 1);
  }
}

/** Lets the promise chains already started run to their next wait. */
export async function settle(): Promise<void> {
  for (let i = 0; i < SETTLE_TURNS; i++) await new Promise((resolve) => setImmediate(resolve));
}
