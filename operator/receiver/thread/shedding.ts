// Priority under overload: when a receive thread cannot keep up, it sheds chatter and keeps what may matter.
// Reading a datagram is cheap; decoding and detecting it is not. Shedding happens in userspace: it keeps the
// socket from overflowing, since the kernel drops whatever arrives at a full socket, panic or not. While
// overloaded, a datagram is fully processed only if
// cheap inspection says it may matter: it carries the panic line's literal text, it is an extended record of
// level ≤ 3 (KERN_ERR and worse: the oops and BUG headers), or its source is in the middle of something (a
// panic's context, a partial line, fragments). Everything else is dropped and counted (reason shed_overload).
import { performance, type EventLoopUtilization } from "node:perf_hooks";
import type { PanicMarker } from "../../panics/detector/marker.ts";

/** Extended records of this level or more severe are kept while shedding (KERN_ERR = 3). */
const KEEP_LEVEL = 3;
/** Load is judged over windows this long: a GC pause or one burst must not start shedding. */
const WINDOW_MS = 100;

/** When a load reading (0-1) means overloaded: two windows in a row at `on` or more; back below `off` to stop. */
export interface ShedThresholds {
  readonly on: number;
  readonly off: number;
}

/** The event loop's utilization (dgram): busy 97 % of two windows starts shedding, 85 % stops it. */
export const EVENT_LOOP_BUSY: ShedThresholds = { on: 0.97, off: 0.85 };
/**
 * The sockets' fill (batched receive), read after every batch: half the receive buffer queued means the thread
 * is falling behind, and it sheds at once, while the other half still stands between it and the kernel's drops at
 * a full socket (a 100 ms window is too slow there: a 4 MiB buffer fills in about that long at 30,000
 * datagrams/s past what the thread can do). Half, not less: a GC pause alone queues a fifth of it at 50,000/s.
 * It stops at three tenths: what a pause queued is shed only down to there, and the rest is processed.
 */
export const SOCKET_FILL: ShedThresholds = { on: 0.5, off: 0.3 };

/** Shedding judged on every reading of the sockets' fill, with hysteresis (batched receive). */
export class SocketPressure {
  private readonly thresholds: ShedThresholds;
  shedding = false;

  constructor(thresholds: ShedThresholds = SOCKET_FILL) {
    this.thresholds = thresholds;
  }

  observe(fill: number): boolean {
    if (!this.shedding && fill >= this.thresholds.on) this.shedding = true;
    else if (this.shedding && fill <= this.thresholds.off) this.shedding = false;
    return this.shedding;
  }
}

/** A change of shedding is logged at most this often (it may flip many times a second under a steady flood). */
const LOG_EVERY_MS = 10_000;

/** Applies a shedding decision to Ingest and the gauge at once, and to the log at most every LOG_EVERY_MS. */
export class ShedSwitch {
  private readonly apply: (on: boolean) => void;
  private readonly note: (on: boolean, changes: number) => void;
  private current = false;
  private changes = 0;
  private loggedAtMs = -Infinity;
  private logged = false;

  constructor(apply: (on: boolean) => void, note: (on: boolean, changes: number) => void) {
    this.apply = apply;
    this.note = note;
  }

  set(on: boolean, nowMs: number): void {
    if (on !== this.current) {
      this.current = on;
      this.changes++;
      this.apply(on);
    }
    if (this.logged !== this.current && nowMs - this.loggedAtMs >= LOG_EVERY_MS) {
      this.note(this.current, this.changes);
      this.logged = this.current;
      this.loggedAtMs = nowMs;
      this.changes = 0;
    }
  }
}

/** What may matter in a datagram, judged without decoding it. */
export class Triage {
  private readonly marker: PanicMarker;

  constructor(marker: PanicMarker) {
    this.marker = marker;
  }

  mayMatter(datagram: Buffer): boolean {
    const level = extendedLevel(datagram);
    return (level !== undefined && level <= KEEP_LEVEL) || this.marker.mayCarry(datagram);
  }
}

/**
 * The console level (0-7) of an extended record (`<prio>,<seq>,…;` or `<release>,<prio>,…;`), or undefined
 * for plain text (which carries no level on the wire) and for continuation fragments.
 */
export function extendedLevel(datagram: Buffer): number | undefined {
  for (let field = 0, start = 0; field < 2; field++) {
    let value = 0;
    let i = start;
    while (i < datagram.length && i - start < 8 && datagram[i]! >= 0x30 && datagram[i]! <= 0x39)
      value = value * 10 + datagram[i++]! - 0x30;
    if (i > start && datagram[i] === 0x2c) {
      // All digits, then a comma: the prio field when the next field is the sequence number.
      const next = datagram[i + 1];
      if (next !== undefined && next >= 0x30 && next <= 0x39) return value & 7;
    }
    // Not all digits: the release (e.g. 6.1.0-50-amd64) may come first; look at the next field once.
    const comma = datagram.indexOf(0x2c, start);
    if (comma === -1 || comma - start > 64) return undefined;
    start = comma + 1;
  }
  return undefined;
}

/** A load reading, 0-1: the share of the time since the last reading that the event loop was busy, or a fill. */
export type BusyShare = () => number;

/** This thread's event loop, as Node accounts it at each of the loop's turns. */
export function eventLoopBusyShare(): BusyShare {
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const share = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    return share;
  };
}

/** Decides whether this thread is overloaded, from a load reading (utilization, socket fill) each window. */
export class OverloadMonitor {
  private readonly busyShare: BusyShare;
  private readonly thresholds: ShedThresholds;
  private windowStartMs: number;
  private busyWindows = 0;
  shedding = false;

  constructor(busyShare: BusyShare, nowMs: number, thresholds: ShedThresholds = EVENT_LOOP_BUSY) {
    this.busyShare = busyShare;
    this.thresholds = thresholds;
    this.windowStartMs = nowMs;
  }

  /** Call every tick (monotonic milliseconds); returns whether to shed until the next one. */
  tick(nowMs: number): boolean {
    if (nowMs - this.windowStartMs < WINDOW_MS) return this.shedding;
    this.windowStartMs = nowMs;
    const utilization = this.busyShare();
    this.busyWindows = utilization >= this.thresholds.on ? this.busyWindows + 1 : 0;
    if (!this.shedding && this.busyWindows >= 2) this.shedding = true;
    else if (this.shedding && utilization <= this.thresholds.off) this.shedding = false;
    return this.shedding;
  }
}
