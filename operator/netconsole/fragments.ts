// Reassembly of extended records that netconsole split into `ncfrag=<offset>/<total>` fragments, per source and
// per sequence number. Bounded like netconsd's: a record larger than the cap is refused, incomplete records
// time out, and only a few may be in flight per source.

export interface FragmentLimits {
  /** Largest reassembled body accepted (netconsd: 8 KiB). */
  readonly maxRecordBytes: number;
  /** Incomplete records in flight per source; the oldest is dropped beyond this. */
  readonly maxInFlight: number;
  /** How long an incomplete record is kept (netconsd: 200 ms). */
  readonly timeoutMs: number;
}

export type FragmentOutcome<Meta> =
  | { readonly kind: "complete"; readonly body: Uint8Array; readonly meta: Meta }
  | { readonly kind: "pending" }
  | { readonly kind: "rejected"; readonly reason: "fragment_too_large" | "fragment_inconsistent" };

interface Pending<Meta> {
  /** What the first fragment's header said; every fragment repeats it. */
  readonly meta: Meta;
  readonly total: number;
  readonly buffer: Uint8Array;
  /** Bytes received so far, by [start, end) range; overlaps (repeated packets) are not double counted. */
  readonly ranges: [number, number][];
  readonly firstSeenMs: number;
}

export class FragmentReassembler<Meta> {
  private readonly pending = new Map<number, Pending<Meta>>();
  private readonly limits: FragmentLimits;

  constructor(limits: FragmentLimits) {
    this.limits = limits;
  }

  get bufferedBytes(): number {
    if (this.pending.size === 0 && this.evicted.length === 0) return 0; // nearly always: asked on every packet
    let bytes = 0;
    for (const p of this.pending.values()) bytes += p.total;
    for (const p of this.evicted) bytes += p.total;
    return bytes;
  }

  /** Records pushed out by newer ones (at most `maxInFlight` in flight), waiting for the next `expire`. */
  private readonly evicted: Pending<Meta>[] = [];

  add(
    seq: number,
    fragment: { offset: number; total: number; chunk: Uint8Array; meta: Meta },
    nowMs: number,
  ): FragmentOutcome<Meta> {
    const { offset, total, chunk } = fragment;
    if (total > this.limits.maxRecordBytes) return { kind: "rejected", reason: "fragment_too_large" };
    let record = this.pending.get(seq);
    if (record !== undefined && record.total !== total) {
      this.pending.delete(seq);
      return { kind: "rejected", reason: "fragment_inconsistent" };
    }
    if (offset + chunk.length > total) return { kind: "rejected", reason: "fragment_inconsistent" };
    if (record === undefined) {
      this.makeRoom();
      record = { meta: fragment.meta, total, buffer: new Uint8Array(total), ranges: [], firstSeenMs: nowMs };
      this.pending.set(seq, record);
    }
    record.buffer.set(chunk, offset);
    addRange(record.ranges, offset, offset + chunk.length);
    if (record.ranges.length === 1 && record.ranges[0]![0] === 0 && record.ranges[0]![1] === total) {
      this.pending.delete(seq);
      return { kind: "complete", body: record.buffer, meta: record.meta };
    }
    return { kind: "pending" };
  }

  /**
   * Gives up on incomplete records older than the timeout (and on any pushed out by newer ones). A record
   * whose text arrived whole (its first fragment up to the first newline) is salvaged without the missing
   * userdata: losing a fragment of the userdata, or a flood of spoofed fragment starts, must not lose a panic
   * line. The rest are counted as dropped.
   */
  expire(nowMs: number): Salvage<Meta> {
    const given = this.evicted.splice(0);
    for (const [seq, record] of this.pending) {
      if (nowMs - record.firstSeenMs < this.limits.timeoutMs) continue;
      this.pending.delete(seq);
      given.push(record);
    }
    return salvage(given);
  }

  /** The records pushed out by newer ones since the last call: salvaged or counted at once. */
  takeEvicted(): Salvage<Meta> {
    return salvage(this.evicted.splice(0));
  }

  private makeRoom(): void {
    while (this.pending.size >= this.limits.maxInFlight) {
      const oldest = this.pending.entries().next().value;
      if (oldest === undefined) return;
      this.pending.delete(oldest[0]);
      this.evicted.push(oldest[1]); // the caller takes it right after `add`
    }
  }
}

export interface Salvage<Meta> {
  readonly dropped: number;
  readonly salvaged: { body: Uint8Array; meta: Meta }[];
}

function salvage<Meta>(records: Pending<Meta>[]): Salvage<Meta> {
  const result = { dropped: 0, salvaged: [] as { body: Uint8Array; meta: Meta }[] };
  for (const record of records) {
    const text = receivedText(record);
    if (text !== undefined) result.salvaged.push({ body: text, meta: record.meta });
    else result.dropped++;
  }
  return result;
}

/** The record's text when its first fragment arrived up to a newline: what the kernel printed, whole. */
function receivedText<Meta>(record: Pending<Meta>): Uint8Array | undefined {
  const head = record.ranges[0];
  const received = head !== undefined && head[0] === 0 ? record.buffer.subarray(0, head[1]) : undefined;
  const lastNewline = received?.lastIndexOf(0x0a) ?? -1;
  return received !== undefined && lastNewline > 0 ? received.subarray(0, lastNewline + 1) : undefined;
}

/** Merges [start, end) into a sorted list of disjoint ranges. */
function addRange(ranges: [number, number][], start: number, end: number): void {
  ranges.push([start, end]);
  ranges.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const range of ranges) {
    const last = merged[merged.length - 1];
    if (last !== undefined && range[0] <= last[1]) last[1] = Math.max(last[1], range[1]);
    else merged.push([range[0], range[1]]);
  }
  ranges.splice(0, ranges.length, ...merged);
}
