// A quick look inside a datagram, before any per-source state is touched: could it carry a panic line? Such
// datagrams are never refused by the per-source rate limit (a spoofer flooding a node's address must not make
// its real panic line drop); they are bounded instead by the per-source event budget and the byte budget.
import { parsePlainLine } from "../../netconsole/plain.ts";
import type { DetectionPatterns } from "./patterns.ts";

/** True when some line of the datagram, read as plain text or as an extended record's body, is a panic line. */
export function carriesPanicLine(datagram: Uint8Array, patterns: DetectionPatterns): boolean {
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
