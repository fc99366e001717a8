// Priority under overload: when a receive thread cannot keep up, it sheds chatter and keeps what may matter.
// Reading a datagram is cheap; decoding and detecting it is not. Shedding happens in userspace: it keeps the
// socket from overflowing, since the kernel drops whatever arrives at a full socket, panic or not. While
// overloaded, a datagram is fully processed only if
// cheap inspection says it may matter: it carries the panic line's literal text, it is an extended record of
// level ≤ 3 (KERN_ERR and worse: the oops and BUG headers), or its source is in the middle of something (a
// panic's context, a partial line, fragments). Everything else is dropped and counted (reason shed_overload).
import { performance, type EventLoopUtilization } from "node:perf_hooks";
import type { PanicMarker } from "../detector/marker.ts";

/** Extended records of this level or more severe are kept while shedding (KERN_ERR = 3). */
const KEEP_LEVEL = 3;
/** Utilization is judged over windows this long: a GC pause or one burst must not start shedding. */
const WINDOW_MS = 100;
/** Shedding starts when the thread was busy this share of two windows in a row... */
const SHED_ON_UTILIZATION = 0.97;
/** ...and stops when a window has this much idle time again. */
const SHED_OFF_UTILIZATION = 0.85;

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

/** The share (0-1) of the time since the last reading that the event loop was busy. */
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

/** Decides whether this thread is overloaded, from its event loop's utilization over the last windows. */
export class OverloadMonitor {
  private readonly busyShare: BusyShare;
  private windowStartMs: number;
  private busyWindows = 0;
  shedding = false;

  constructor(busyShare: BusyShare, nowMs: number) {
    this.busyShare = busyShare;
    this.windowStartMs = nowMs;
  }

  /** Call every tick (monotonic milliseconds); returns whether to shed until the next one. */
  tick(nowMs: number): boolean {
    if (nowMs - this.windowStartMs < WINDOW_MS) return this.shedding;
    this.windowStartMs = nowMs;
    const utilization = this.busyShare();
    this.busyWindows = utilization >= SHED_ON_UTILIZATION ? this.busyWindows + 1 : 0;
    if (!this.shedding && this.busyWindows >= 2) this.shedding = true;
    else if (this.shedding && utilization <= SHED_OFF_UTILIZATION) this.shedding = false;
    return this.shedding;
  }
}
