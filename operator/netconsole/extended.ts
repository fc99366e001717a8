// The extended netconsole header: `[release,]<prio>,<seq>,<ts_usec>,<flag>[,caller=…][,ncfrag=<off>/<total>];`.
// A datagram whose header does not parse is plain console text (netconsd's rule): parsing is strict so that
// ordinary text that happens to contain a semicolon is never mistaken for a record.

export interface ExtendedHeader {
  readonly release?: string;
  readonly prio: number;
  readonly seq: number;
  readonly tsUsec: number;
  /** `c` marks a continuation fragment of a record (LOG_CONT); `-` otherwise. */
  readonly flag: string;
  readonly caller?: string;
  readonly fragment?: { readonly offset: number; readonly total: number };
  /** Index of the first body byte (after the `;`). */
  readonly bodyStart: number;
}

/** The longest header we accept: a 64-byte release plus four numbers, caller and fragment fields. */
const MAX_HEADER_BYTES = 200;
const SEMICOLON = 0x3b;
const COMMA = 0x2c;
const DOT = 0x2e;
const EQUALS = 0x3d;
const SLASH = 0x2f;
const ZERO = 0x30;
/** The longest number accepted in a core field: 20 digits. */
const MAX_DIGITS = 20;
/** The longest number in an ncfrag field: 7 digits. */
const MAX_FRAGMENT_DIGITS = 7;
/** The highest syslog priority: facility 23 (local7) * 8 + level 7. */
const MAX_PRIO = 191;
const FLAGS = new Set([0x2d, 0x63, 0x2b]); // - c +

// Parsed byte by byte, with no intermediate strings: this runs for every datagram the receiver reads.
export function parseExtendedHeader(datagram: Uint8Array): ExtendedHeader | undefined {
  const end = headerEnd(datagram);
  if (end <= 0) return undefined;
  const fields = fieldBounds(datagram, end);
  // The release (prepended with netconsole's `r`) is the only field that can contain a dot.
  const hasRelease = datagram.subarray(fields[0], fields[1]! - 1).includes(DOT);
  const first = hasRelease ? 1 : 0;
  if (fields.length - 1 < first + 4) return undefined;
  const prio = fieldNumber(datagram, fields[first]!, fields[first + 1]! - 1, MAX_DIGITS);
  const seq = fieldNumber(datagram, fields[first + 1]!, fields[first + 2]! - 1, MAX_DIGITS);
  const tsUsec = fieldNumber(datagram, fields[first + 2]!, fields[first + 3]! - 1, MAX_DIGITS);
  const flagAt = fields[first + 3]!;
  if (prio === undefined || seq === undefined || tsUsec === undefined || prio > MAX_PRIO) return undefined;
  if (fields[first + 4]! - 1 - flagAt !== 1 || !FLAGS.has(datagram[flagAt]!)) return undefined;
  const extras = parseExtras(datagram, fields.slice(first + 4));
  if (extras === undefined) return undefined;
  const header: { -readonly [K in keyof ExtendedHeader]: ExtendedHeader[K] } = {
    prio,
    seq,
    tsUsec,
    flag: String.fromCharCode(datagram[flagAt]!),
    bodyStart: end + 1,
  };
  if (hasRelease) header.release = latin1(datagram, fields[0]!, fields[1]! - 1);
  if (extras.caller !== undefined) header.caller = extras.caller;
  if (extras.fragment !== undefined) header.fragment = extras.fragment;
  return header;
}

/** The index of the `;` ending a header of printable ASCII, or -1. */
function headerEnd(datagram: Uint8Array): number {
  const limit = Math.min(datagram.length, MAX_HEADER_BYTES);
  for (let i = 0; i < limit; i++) {
    const byte = datagram[i]!;
    if (byte === SEMICOLON) return i;
    if (byte <= 0x20 || byte >= 0x7f) return -1;
  }
  return -1;
}

/** Where each comma-separated field starts, then end + 1: field i spans [bounds[i], bounds[i + 1] - 1). */
function fieldBounds(datagram: Uint8Array, end: number): number[] {
  const bounds = [0];
  for (let i = 0; i < end; i++) if (datagram[i] === COMMA) bounds.push(i + 1);
  bounds.push(end + 1);
  return bounds;
}

/** A field of 1 to `maxDigits` decimal digits as a safe integer, or undefined. */
function fieldNumber(datagram: Uint8Array, start: number, end: number, maxDigits: number): number | undefined {
  if (end <= start || end - start > maxDigits) return undefined;
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = datagram[i]! - ZERO;
    if (digit < 0 || digit > 9) return undefined;
    // Exact below 2^53; past it the sum only grows, so the check below still refuses it.
    value = value * 10 + digit;
  }
  return Number.isSafeInteger(value) ? value : undefined;
}

function latin1(datagram: Uint8Array, start: number, end: number): string {
  return Buffer.from(datagram.buffer, datagram.byteOffset + start, end - start).toString("latin1");
}

/** `key=value` fields after the core: caller and ncfrag read, unknown keys tolerated (newer kernels add some). */
function parseExtras(
  datagram: Uint8Array,
  bounds: readonly number[],
): { caller?: string; fragment?: { offset: number; total: number } } | undefined {
  const result: { caller?: string; fragment?: { offset: number; total: number } } = {};
  for (let f = 0; f + 1 < bounds.length; f++) {
    const start = bounds[f]!;
    const end = bounds[f + 1]! - 1;
    const eq = datagram.subarray(start, end).indexOf(EQUALS);
    if (eq <= 0) return undefined;
    const key = latin1(datagram, start, start + eq);
    if (key === "caller") result.caller = latin1(datagram, start + eq + 1, end);
    else if (key === "ncfrag") {
      const fragment = parseFragment(datagram, start + eq + 1, end);
      if (fragment === undefined) return undefined;
      result.fragment = fragment;
    }
  }
  return result;
}

/** `<offset>/<total>`, each 1 to 7 digits, total > 0 and offset < total. */
function parseFragment(
  datagram: Uint8Array,
  start: number,
  end: number,
): { offset: number; total: number } | undefined {
  const slash = datagram.subarray(start, end).indexOf(SLASH);
  if (slash === -1) return undefined;
  const offset = fieldNumber(datagram, start, start + slash, MAX_FRAGMENT_DIGITS);
  const total = fieldNumber(datagram, start + slash + 1, end, MAX_FRAGMENT_DIGITS);
  if (offset === undefined || total === undefined || total === 0 || offset >= total) return undefined;
  return { offset, total };
}
