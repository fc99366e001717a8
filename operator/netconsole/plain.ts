// Plain (non-extended) netconsole: the console text exactly as printed, cut into raw slices of at most 1000 bytes
// with no marker. Lines are reassembled per source; each line's console prefixes are then removed.

export interface PlainLine {
  readonly text: string;
  /** The `<N>` syslog prefix, when the console printed one. */
  readonly prio?: number;
  /** `[ 3742.283995]` as microseconds since boot. */
  readonly tsUsec?: number;
  /** `[ T123]` / `[    C0]` (CONFIG_PRINTK_CALLER). */
  readonly caller?: string;
}

// <prio>? [seconds.micros]? [caller]? then one optional space. Each part is optional and anchored at the start.
const prefix = /^(?:<(\d{1,3})>)?(?:\[\s*(\d{1,10})\.(\d{1,9})\])?(?:\[\s*([TC]\d{1,10})\])?[ ]?/;

export function parsePlainLine(line: string): PlainLine {
  const match = prefix.exec(line);
  const [whole = "", prio, seconds, fraction, caller] = match ?? [];
  const result: { text: string; prio?: number; tsUsec?: number; caller?: string } = {
    text: line.slice(whole.length).trimEnd(),
  };
  if (prio !== undefined) result.prio = Number(prio);
  if (seconds !== undefined && fraction !== undefined) {
    result.tsUsec = Number(seconds) * 1_000_000 + Math.round(Number(`0.${fraction}`) * 1_000_000);
  }
  if (caller !== undefined) result.caller = caller;
  return result;
}

/**
 * A console line's opening: an optional `<N>` then `[ seconds.micros]`. netconsole sends each console write as
 * its own datagram, so a datagram that opens like this starts a new line.
 */
const lineStart = /^(?:<\d{1,3}>)?\[\s*\d{1,10}\.\d{1,9}\]/;

/** Whether console text (or a datagram's first bytes read as Latin-1: the opening is ASCII) starts a new line. */
export function opensLine(text: string): boolean {
  return lineStart.test(text);
}

/**
 * Joins the slices of one source's console stream into lines. Never holds more than `maxLineLength`
 * characters: a longer line is emitted in pieces marked truncated.
 */
export class LineAssembler {
  private partial = "";
  /** The line being assembled was already cut once: its remainder is truncated too. */
  private continuing = false;
  private readonly maxLineLength: number;

  constructor(maxLineLength: number) {
    this.maxLineLength = maxLineLength;
  }

  get pendingLength(): number {
    return this.partial.length;
  }

  /**
   * Adds a datagram's text; returns the lines it completed. A datagram that opens with a console timestamp
   * first ends the unterminated line before it: one stray byte (or a spoofed one) must not glue itself to the
   * front of the next real line.
   */
  push(chunk: string): AssembledLine[] {
    const lines: AssembledLine[] = [];
    if (this.partial.length > 0 && opensLine(chunk)) {
      const ended = this.flush();
      if (ended !== undefined) lines.push(ended);
    }
    let rest = this.partial + chunk;
    for (let newline = rest.indexOf("\n"); newline !== -1; newline = rest.indexOf("\n")) {
      lines.push(...this.cut(rest.slice(0, newline)));
      this.continuing = false;
      rest = rest.slice(newline + 1);
    }
    while (rest.length > this.maxLineLength) {
      lines.push({ line: rest.slice(0, this.maxLineLength), truncated: true });
      this.continuing = true;
      rest = rest.slice(this.maxLineLength);
    }
    this.partial = rest;
    return lines;
  }

  /** The unterminated rest as a line of its own (the source has gone quiet, or is being evicted). */
  flush(): AssembledLine | undefined {
    const line = this.partial;
    const truncated = this.continuing;
    this.partial = "";
    this.continuing = false;
    return line.length > 0 ? { line, truncated } : undefined;
  }

  private cut(raw: string): AssembledLine[] {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    const pieces: AssembledLine[] = [];
    for (let i = 0; i < line.length || i === 0; i += this.maxLineLength) {
      pieces.push({
        line: line.slice(i, i + this.maxLineLength),
        truncated: this.continuing || line.length > this.maxLineLength,
      });
    }
    return pieces;
  }
}

export interface AssembledLine {
  readonly line: string;
  readonly truncated: boolean;
}
