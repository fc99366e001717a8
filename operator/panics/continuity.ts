// Stream continuity: does a panic continue the node's own netconsole stream? Extended records carry the kernel's
// printk sequence number and its clock (microseconds since boot). A node's stream is anchored by its agent's
// self-test line, which names the node and its boot id (a per-boot random UUID the reconciler checks against the
// Node's status.nodeInfo.bootID). From the anchor on, a record continues the stream when its sequence number is
// ahead of the last one heard and its timestamp moved by as much as the receiver's clock did since. An off-path
// forger, who never sees the stream, knows neither where the sequence is nor the node's uptime to the second: its
// panic does not continue the stream, and the reconciler then waits for the Lease instead of acting on the probe.
//
// Untrusted input can only add anchors: at most MAX_ANCHORS per source, the least recently continued forgotten.
// Forged self-tests with made-up boot ids make chains of their own that the reconciler refuses (wrong boot id);
// enough of them evict the node's chain until its next self-test, which only delays (the Lease decides).
//
// A dead kernel's stream stops after its report: the lines of a panic all carry timestamps within moments of the
// panic line (the kernel stops the other CPUs, then only waits or reboots into a new boot id). A record that
// continues a chain AFTER_PANIC_USEC or more of kernel time past a panic the chain carried is a live kernel
// talking: it is reported once (`afterPanic`), and the reconciler refuses to act on that panic.
import type { SelfTest } from "../api/selftest.ts";
import { setNewest, trimOldest } from "../bounded.ts";
import type { KernelRecord } from "../netconsole/record.ts";

/** Chains (claimed node and boot id) kept per source. */
export const MAX_ANCHORS = 4;
/** Records the console may not have shown between two it did (below the console log level, lost packets). */
export const MAX_SEQUENCE_GAP = 1_000_000;
/** How far the kernel's clock may move apart from the receiver's between two records: network and print delays… */
export const DRIFT_SLACK_MS = 2000;
/** …plus this much per millisecond between them (clock rates: NTP keeps both within 500 ppm). */
export const DRIFT_PER_MS = 0.001;
/** Kernel time past a panic after which a record continuing its stream shows the kernel alive. */
export const AFTER_PANIC_USEC = 5_000_000;

export type Continuity = Continuous | Discontinuous;

export interface Continuous {
  readonly kind: "continuous";
  readonly anchor: SelfTest;
  /** The sequence number of the record heard before this one in the same stream. */
  readonly previousSequence: number;
  /** How long before this record (receiver's clock) that one arrived. */
  readonly sinceHeardMs: number;
  /** The kernel clock's advance minus the receiver's between the two. */
  readonly driftMs: number;
  /** This record's own place in the stream. */
  readonly position: StreamPosition;
  /** Set (once) when this record shows the kernel alive after a panic its stream carried. */
  readonly afterPanic?: StreamPosition;
}

type Discontinuous =
  | {
      readonly kind: "broken";
      /** The first stream it did not continue: where that stream stood, and where this record claimed to be. */
      readonly last: StreamPosition;
      readonly next: StreamPosition;
    }
  | { readonly kind: "unanchored" }
  | { readonly kind: "plain" };

/** A record's place in a stream: its sequence number and timestamp, and when (receiver's clock) it arrived. */
export interface StreamPosition {
  readonly seq: number;
  readonly tsUsec: number;
  readonly atMs: number;
}

interface Chain {
  readonly anchor: SelfTest;
  last: StreamPosition;
  /** The panic this stream carried, until a record shows the kernel alive after it. */
  panic?: StreamPosition;
}

export class StreamContinuity {
  /** Keyed by node and boot id; insertion order is recency (the least recently continued first). */
  private readonly chains = new Map<string, Chain>();

  /** Characters held (node names and boot ids), for the receiver's byte budget. */
  get retainedChars(): number {
    let chars = 0;
    for (const chain of this.chains.values()) chars += chain.anchor.node.length + chain.anchor.bootId.length;
    return chars;
  }

  /**
   * Judges one record and moves the stream on: a self-test (re)anchors its chain; any other record that continues
   * a chain becomes that chain's newest position.
   */
  observe(record: KernelRecord, selfTest: SelfTest | undefined, nowMs: number): Continuity {
    if (!record.extended || record.seq === undefined || record.tsUsec === undefined) return { kind: "plain" };
    const position = { seq: record.seq, tsUsec: record.tsUsec, atMs: nowMs };
    if (selfTest !== undefined) return this.anchor(selfTest, position);
    let first: StreamPosition | undefined;
    for (const [key, chain] of this.chains) {
      const fit = judge(chain.last, position);
      if (fit === undefined) {
        first ??= chain.last;
        continue;
      }
      chain.last = position;
      setNewest(this.chains, key, chain);
      return { kind: "continuous", anchor: chain.anchor, ...fit, position, ...this.alive(chain, position) };
    }
    return first === undefined ? { kind: "unanchored" } : { kind: "broken", last: first, next: position };
  }

  /** A panic line continued `anchor`'s stream at `position`: a later record far enough past it shows life. */
  panicked(anchor: SelfTest, position: StreamPosition): void {
    const chain = this.chains.get(`${anchor.node} ${anchor.bootId}`);
    if (chain !== undefined) chain.panic = position;
  }

  /** `{ afterPanic }` when `position` is far past the panic its chain carried (reported once), else nothing. */
  private alive(chain: Chain, position: StreamPosition): { afterPanic?: StreamPosition } {
    const panic = chain.panic;
    if (panic === undefined || position.tsUsec - panic.tsUsec < AFTER_PANIC_USEC) return {};
    chain.panic = undefined;
    return { afterPanic: panic };
  }

  private anchor(selfTest: SelfTest, position: StreamPosition): Continuity {
    const key = `${selfTest.node} ${selfTest.bootId}`;
    const previous = this.chains.get(key);
    const chain: Chain = { anchor: { node: selfTest.node, bootId: selfTest.bootId }, last: position };
    setNewest(this.chains, key, chain);
    trimOldest(this.chains, MAX_ANCHORS);
    if (previous === undefined) return { kind: "unanchored" };
    const fit = judge(previous.last, position);
    if (fit === undefined) return { kind: "broken", last: previous.last, next: position };
    chain.panic = previous.panic;
    return { kind: "continuous", anchor: selfTest, ...fit, position, ...this.alive(chain, position) };
  }
}

type Fit = { readonly previousSequence: number; readonly sinceHeardMs: number; readonly driftMs: number };

/** How `next` continues the stream whose newest record is `last`, or undefined when it does not. */
function judge(last: StreamPosition, next: StreamPosition): Fit | undefined {
  const gap = next.seq - last.seq;
  if (gap <= 0 || gap > MAX_SEQUENCE_GAP) return undefined;
  const sinceHeardMs = next.atMs - last.atMs;
  const driftMs = (next.tsUsec - last.tsUsec) / 1000 - sinceHeardMs;
  if (Math.abs(driftMs) > DRIFT_SLACK_MS + DRIFT_PER_MS * sinceHeardMs) return undefined;
  return { previousSequence: last.seq, sinceHeardMs, driftMs };
}

/** Why a record did not continue the stream (for the event: only panics are explained, off the hot path). */
export function whyBroken(last: StreamPosition, next: StreamPosition): string {
  const gap = next.seq - last.seq;
  if (gap <= 0) return `its sequence number ${next.seq} is not after ${last.seq}, the last heard`;
  if (gap > MAX_SEQUENCE_GAP) return `its sequence number ${next.seq} is ${gap} past ${last.seq}, the last heard`;
  return `its timestamp moved ${Math.round((next.tsUsec - last.tsUsec) / 1000)} ms from the last heard record's while ${Math.round(next.atMs - last.atMs)} ms passed`;
}
