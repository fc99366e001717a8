// One source's netconsole stream: datagrams in, kernel records out. Extended datagrams are parsed (and
// reassembled from fragments); anything else is plain console text, joined into lines across datagrams.
// All state is bounded by the limits given, and every refused datagram is reported with a reason.
import { parseExtendedBody } from "./body.ts";
import { parseExtendedHeader, type ExtendedHeader } from "./extended.ts";
import { FragmentReassembler, type FragmentLimits } from "./fragments.ts";
import { LineAssembler, opensLine, parsePlainLine, type AssembledLine } from "./plain.ts";
import type { KernelRecord } from "./record.ts";

/** netconsole's MAX_PRINT_CHUNK: the kernel never sends a larger payload. */
export const MAX_DATAGRAM_BYTES = 1000;
/**
 * Lines taken from one plain datagram at most. The kernel sends one console write per datagram (a record, a few
 * lines at most); a datagram of hundreds of empty lines is a cheap way to make every later step work hard.
 */
export const MAX_LINES_PER_DATAGRAM = 64;

/** `<NNN>[1234567890.123456789]`: the longest opening of a console line. */
const LINE_OPENING_BYTES = 32;

export type ParseError =
  "empty" | "oversized" | "binary" | "too_many_lines" | "fragment_too_large" | "fragment_inconsistent";

export interface StreamLimits extends FragmentLimits {
  readonly maxLineLength: number;
}

export interface DecodeResult {
  readonly records: KernelRecord[];
  readonly error?: ParseError;
  /** Incomplete fragmented records given up (pushed out by newer ones) whose text could not be salvaged. */
  readonly droppedFragments?: number;
}

export class NetconsoleStream {
  private readonly lines: LineAssembler;
  private readonly fragments: FragmentReassembler<ExtendedHeader>;
  // One streaming decoder per source: a UTF-8 character may be split between two plain datagrams.
  private text = new TextDecoder("utf-8", { fatal: false });

  constructor(limits: StreamLimits) {
    this.lines = new LineAssembler(limits.maxLineLength);
    this.fragments = new FragmentReassembler(limits);
  }

  /** Bytes held for this source: the unterminated plain line (two bytes a character at worst) and fragments. */
  get bufferedBytes(): number {
    return this.lines.pendingLength * 2 + this.fragments.bufferedBytes;
  }

  decode(datagram: Uint8Array, nowMs: number): DecodeResult {
    if (datagram.length === 0) return { records: [], error: "empty" };
    if (datagram.length > MAX_DATAGRAM_BYTES) return { records: [], error: "oversized" };
    if (looksBinary(datagram)) return { records: [], error: "binary" };
    const header = parseExtendedHeader(datagram);
    if (header === undefined) {
      // A datagram that opens a console line starts afresh: the dangling bytes of a character cut short (one
      // spoofed lead byte is enough) must not turn the line's opening timestamp into something else.
      if (opensLine(Buffer.from(datagram.subarray(0, LINE_OPENING_BYTES)).toString("latin1")))
        this.text = new TextDecoder("utf-8", { fatal: false });
      const lines = this.lines.push(this.text.decode(datagram, { stream: true }));
      if (lines.length <= MAX_LINES_PER_DATAGRAM) return { records: lines.map(plainRecord) };
      return { records: lines.slice(0, MAX_LINES_PER_DATAGRAM).map(plainRecord), error: "too_many_lines" };
    }
    const body = datagram.subarray(header.bodyStart);
    if (header.fragment === undefined) return { records: [extendedRecord(header, body)] };
    const { offset, total } = header.fragment;
    const outcome = this.fragments.add(header.seq, { offset, total, chunk: body, meta: header }, nowMs);
    // Records pushed out to make room come first: they are older.
    const evicted = this.fragments.takeEvicted();
    const records = evicted.salvaged.map(({ body: text, meta }) => extendedRecord(meta, text));
    const dropped = evicted.dropped > 0 ? { droppedFragments: evicted.dropped } : {};
    if (outcome.kind === "rejected") return { records, error: outcome.reason, ...dropped };
    if (outcome.kind === "complete") records.push(extendedRecord(outcome.meta, outcome.body));
    return { records, ...dropped };
  }

  /**
   * Housekeeping when the source has been quiet: the unterminated plain line becomes a line of its own,
   * timed-out fragments are salvaged (text complete) or dropped.
   */
  flush(nowMs: number, quiet: boolean): { records: KernelRecord[]; droppedFragments: number } {
    const expired = this.fragments.expire(nowMs);
    const records = expired.salvaged.map(({ body, meta }) => extendedRecord(meta, body));
    const partial = quiet ? this.lines.flush() : undefined;
    if (partial !== undefined) records.push(plainRecord(partial));
    return { records, droppedFragments: expired.dropped };
  }
}

function extendedRecord(header: ExtendedHeader, body: Uint8Array): KernelRecord {
  const parsed = parseExtendedBody(body);
  const release = header.release ?? parsed.sysdata.release;
  return {
    text: parsed.text,
    extended: true,
    prio: header.prio,
    seq: header.seq,
    tsUsec: header.tsUsec,
    ...(header.caller === undefined ? {} : { caller: header.caller }),
    ...(release === undefined ? {} : { release }),
    ...(Object.keys(parsed.userdata).length === 0 ? {} : { userdata: parsed.userdata }),
  };
}

function plainRecord(assembled: AssembledLine): KernelRecord {
  const line = parsePlainLine(assembled.line);
  return { ...line, extended: false, ...(assembled.truncated ? { truncated: true } : {}) };
}

/** Console text is text: a NUL byte, or mostly control bytes, means this is not netconsole. */
function looksBinary(datagram: Uint8Array): boolean {
  let control = 0;
  for (let i = 0; i < datagram.length; i++) {
    const byte = datagram[i]!;
    if (byte === 0) return true;
    if ((byte < 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d) || byte === 0x7f) control++;
  }
  return control * 4 > datagram.length;
}
