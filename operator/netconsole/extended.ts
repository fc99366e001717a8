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
const digits = /^\d{1,20}$/;
/** The highest syslog priority: facility 23 (local7) * 8 + level 7. */
const MAX_PRIO = 191;

export function parseExtendedHeader(datagram: Uint8Array): ExtendedHeader | undefined {
  const end = datagram.subarray(0, MAX_HEADER_BYTES).indexOf(SEMICOLON);
  if (end <= 0) return undefined;
  const header = datagram.subarray(0, end);
  if (!header.every((b) => b > 0x20 && b < 0x7f)) return undefined;
  const fields = Buffer.from(header).toString("latin1").split(",");
  // The release (prepended with netconsole's `r`) is the only field that can contain a dot.
  const release = fields[0]?.includes(".") === true ? fields.shift() : undefined;
  const core = parseCore(fields.slice(0, 4));
  const extras = parseExtras(fields.slice(4));
  if (core === undefined || extras === undefined) return undefined;
  return { ...(release === undefined ? {} : { release }), ...core, ...extras, bodyStart: end + 1 };
}

/** `<prio>,<seq>,<ts_usec>,<flag>`, each strictly numeric (the flag one character), or undefined. */
function parseCore(fields: string[]): { prio: number; seq: number; tsUsec: number; flag: string } | undefined {
  const [prio = "", seq = "", ts = "", flag = ""] = fields;
  if (![prio, seq, ts].every((f) => digits.test(f)) || !/^[-c+]$/.test(flag)) return undefined;
  const numbers = [Number(prio), Number(seq), Number(ts)] as const;
  if (numbers[0] > MAX_PRIO || !numbers.every(Number.isSafeInteger)) return undefined;
  return { prio: numbers[0], seq: numbers[1], tsUsec: numbers[2], flag };
}

function parseExtras(extras: string[]): { caller?: string; fragment?: { offset: number; total: number } } | undefined {
  const result: { caller?: string; fragment?: { offset: number; total: number } } = {};
  for (const extra of extras) {
    const eq = extra.indexOf("=");
    if (eq <= 0) return undefined;
    const [key, value] = [extra.slice(0, eq), extra.slice(eq + 1)];
    if (key === "caller") result.caller = value;
    else if (key === "ncfrag") {
      const match = /^(\d{1,7})\/(\d{1,7})$/.exec(value);
      if (match === null) return undefined;
      const [offset, total] = [Number(match[1]), Number(match[2])];
      if (total === 0 || offset >= total) return undefined;
      result.fragment = { offset, total };
    }
    // Unknown key=value fields are tolerated: newer kernels may add some.
  }
  return result;
}
