// The one source of time. Every timer and every "now" in the operator comes from a Clock handed in by the
// composition root (commands/), so a test can move time itself (test/harness/clock.ts) instead of waiting for it:
// nothing in the unit tier depends on how busy the machine is.

/** Stops a timer; calling it again, or after the timer ran, does nothing. */
export type Cancel = () => void;

export interface Clock {
  /** Wall-clock time: what is written to the API and shown to people. It may jump (NTP, a VM resumed). */
  now(): Date;
  /** The same wall-clock time in milliseconds since the epoch, for hot paths that should not allocate a Date. */
  nowMs(): number;
  /** Milliseconds on a clock that never jumps, for intervals and deadlines; its zero means nothing. */
  monotonicMs(): number;
  /** Runs `fn` once, `ms` from now. */
  setTimeout(fn: () => void, ms: number): Cancel;
  /** Runs `fn` every `ms` until cancelled. */
  setInterval(fn: () => void, ms: number): Cancel;
  /** Resolves `ms` from now, or at once (without rejecting) when `signal` is aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Node's timers and clocks. */
export const systemClock: Clock = {
  now: () => new Date(),
  nowMs: () => Date.now(),
  monotonicMs: () => performance.now(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, ms);
    return () => {
      clearTimeout(timer);
    };
  },
  setInterval(fn, ms) {
    const timer = setInterval(fn, ms);
    return () => {
      clearInterval(timer);
    };
  },
  sleep(ms, signal) {
    return new Promise((resolve) => {
      if (signal?.aborted === true) {
        resolve();
        return;
      }
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done, { once: true });
    });
  },
};
