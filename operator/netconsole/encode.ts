// Kernel log lines → netconsole datagrams, byte for byte as drivers/net/netconsole.c sends them. Used by
// `lastgasp send` to replay real logs at a receiver, and by tests and benchmarks as the kernel's stand-in.
import { parsePlainLine } from "./plain.ts";
import { MAX_DATAGRAM_BYTES } from "./stream.ts";

export interface EncodeOptions {
  /** Extended format (`+`): one record per datagram with a printk header. */
  readonly extended: boolean;
  /** Prepend the kernel release (`r`, extended only). */
  readonly release?: string;
  /** netconsole userdata appended to every extended record. */
  readonly userdata?: Readonly<Record<string, string>>;
  /** printk sequence number of the first line. */
  readonly firstSequence?: number;
}

/**
 * Plain mode: the console text exactly as printed, a write per line, cut into raw slices of MAX_PRINT_CHUNK
 * with no marker.
 */
export function encodePlain(lines: readonly string[]): Buffer[] {
  return lines.flatMap((line) => slices(Buffer.from(`${line}\n`, "utf8"), MAX_DATAGRAM_BYTES));
}

/**
 * Extended mode: `<prio>,<seq>,<ts_usec>,<flag>;<escaped text>\n` plus ` key=value\n` userdata, the release
 * prepended when set, split into `ncfrag=<offset>/<total>` fragments when larger than MAX_PRINT_CHUNK.
 * The level is the line's `<N>` prefix when it has one, else KERN_EMERG for the panic line and KERN_WARNING for
 * the rest; the timestamp is the line's console timestamp when it has one, else the previous line's.
 */
export function encodeExtended(lines: readonly string[], options: EncodeOptions): Buffer[] {
  let seq = options.firstSequence ?? 1;
  let tsUsec = 0;
  const userdata = Object.entries(options.userdata ?? {})
    .map(([k, v]) => ` ${k}=${v}\n`)
    .join("");
  return lines.flatMap((raw) => {
    const line = parsePlainLine(raw);
    tsUsec = line.tsUsec ?? tsUsec;
    const prio = line.prio ?? (line.text.startsWith("Kernel panic - not syncing") ? 0 : 4);
    const caller = line.caller === undefined ? "" : `,caller=${line.caller}`;
    const header = `${prio},${seq++},${tsUsec},-${caller}`;
    const body = Buffer.concat([escapeText(line.text), Buffer.from(`\n${userdata}`, "utf8")]);
    return extendedDatagrams(header, body, options.release);
  });
}

function extendedDatagrams(header: string, body: Buffer, release: string | undefined): Buffer[] {
  const releasePrefix = release === undefined ? "" : `${release},`;
  const whole = Buffer.concat([Buffer.from(`${releasePrefix}${header};`, "latin1"), body]);
  if (whole.length <= MAX_DATAGRAM_BYTES) return [whole];
  const datagrams: Buffer[] = [];
  for (let offset = 0; offset < body.length;) {
    const fragmentHeader = Buffer.from(`${releasePrefix}${header},ncfrag=${offset}/${body.length};`, "latin1");
    const chunk = body.subarray(offset, offset + MAX_DATAGRAM_BYTES - fragmentHeader.length);
    datagrams.push(Buffer.concat([fragmentHeader, chunk]));
    offset += chunk.length;
  }
  return datagrams;
}

/** printk's extended escaping: bytes < 0x20, >= 0x7f and the backslash become \xNN. */
export function escapeText(text: string): Buffer {
  const out: number[] = [];
  for (const byte of Buffer.from(text, "utf8")) {
    if (byte < 0x20 || byte >= 0x7f || byte === 0x5c)
      out.push(...Buffer.from(`\\x${byte.toString(16).padStart(2, "0")}`, "latin1"));
    else out.push(byte);
  }
  return Buffer.from(out);
}

function slices(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}
