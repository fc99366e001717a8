// A quick look inside a datagram, before any per-source state is touched: could it carry a panic line? Such
// datagrams are never refused by the per-source rate limit (a spoofer flooding a node's address must not make
// its real panic line drop); they are bounded instead by the per-source event budget and the byte budget. An
// overloaded receive thread keeps them too (shedding.ts). Both ask the same marker: first whether the panic
// pattern's literal text is in the bytes at all (no decoding), and only then, where exactness matters, whether
// a line really is a panic line.
import { parsePlainLine } from "../../netconsole/plain.ts";
import { literalAt } from "./line-matcher.ts";
import type { DetectionPatterns } from "./patterns.ts";

/** A literal shorter than this is too common to be a useful filter. */
const MIN_LITERAL = 8;

export class PanicMarker {
  private readonly patterns: DetectionPatterns;
  /** Each panic pattern's leading literal, or undefined when some pattern has none (then only `carries`). */
  private readonly literals: readonly Buffer[] | undefined;

  constructor(patterns: DetectionPatterns) {
    this.patterns = patterns;
    const literals = patterns.panic.map(leadingLiteral);
    this.literals = literals.every((l) => l !== undefined) ? literals.map((l) => Buffer.from(l, "latin1")) : undefined;
  }

  /** Cheap: false only when no panic line can be in the datagram (no pattern's literal text is in it). */
  mayCarry(datagram: Uint8Array): boolean {
    if (this.literals === undefined) return carriesPanicLine(datagram, this.patterns);
    const bytes = Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength);
    return this.literals.some((literal) => bytes.includes(literal));
  }

  /** Exact: some line of the datagram is a panic line (after the cheap check). */
  carries(datagram: Uint8Array): boolean {
    return this.mayCarry(datagram) && (this.literals === undefined || carriesPanicLine(datagram, this.patterns));
  }
}

/**
 * The literal text a pattern's match must begin with (after an optional ^), when it has one worth searching
 * for, e.g. "Kernel panic - not syncing:" for the default pattern. Undefined when an alternation, a flag or a
 * leading metacharacter means the match may not contain it, and for text outside printable ASCII (extended
 * netconsole escapes such bytes, so they would not be in the datagram as written).
 */
export function leadingLiteral(pattern: RegExp): string | undefined {
  if (pattern.flags.includes("i") || pattern.source.includes("|")) return undefined;
  const literal = literalAt(pattern.source, pattern.source.startsWith("^") ? 1 : 0);
  return literal !== undefined && literal.length >= MIN_LITERAL && /^[\x20-\x7e]+$/.test(literal) ? literal : undefined;
}

/** True when some line of the datagram, read as plain text or as an extended record's body, is a panic line. */
function carriesPanicLine(datagram: Uint8Array, patterns: DetectionPatterns): boolean {
  const text = Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength).toString("latin1");
  for (const line of text.split("\n")) {
    const semicolon = line.indexOf(";");
    const candidates = semicolon === -1 ? [line] : [line, line.slice(semicolon + 1)];
    for (const candidate of candidates) {
      const body = parsePlainLine(candidate).text;
      if (patterns.panic.some((p) => p.test(body))) return true;
    }
  }
  return false;
}
