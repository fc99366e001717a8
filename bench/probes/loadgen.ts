// Child process of S4 and S5: netconsole chatter from many loopback sources at a set rate, with whole panic logs
// mixed in. Pinned to its own CPU by its parent (../lib/loadgen.ts), so that it never competes with the
// receiver it measures. Ordinary kernel lines, extended (even sources) and plain (odd sources).
import type { Socket } from "node:dgram";
import { performance } from "node:perf_hooks";
import { escapeText } from "../../operator/netconsole/encode.ts";
import { bindSocket } from "../../operator/sender/send.ts";
import { CHATTER } from "../lib/chatter.ts";
import { encodePanic, loopbackAddress } from "../lib/panics.ts";

export interface RunRequest {
  readonly rate: number;
  readonly durationMs: number;
  /** Sources that send a whole panic log halfway through the run. */
  readonly panicSources: readonly number[];
  /**
   * chatter (default): ordinary kernel lines. worst: what costs the receiver most memory per source: plain lines
   * of 1,024 two-byte characters (three datagrams each), so that every source's ring of recent lines is full.
   */
  readonly payload?: "chatter" | "worst";
}

export interface RunReport {
  readonly sent: number;
  readonly elapsedMs: number;
}

const [port, count, octet] = process.argv.slice(2).map(Number) as [number, number, number];
const sockets: Socket[] = [];
const sequence: number[] = [];
for (let i = 0; i < count; i++) {
  const socket = await bindSocket(loopbackAddress(octet, i));
  // Connected: a send then skips the address lookup, which costs more than the send itself.
  await new Promise<void>((resolve) => {
    socket.connect(port, "127.0.0.1", resolve);
  });
  sockets.push(socket);
  sequence.push(1000);
}
/** The chatter lines as extended mode carries them (escaped once: escaping each packet would be our bottleneck). */
const escapedChatter = CHATTER.map((text) => escapeText(text).toString("latin1"));
let uptimeMicros = 1_000_000_000;

/** One chatter line, as netconsole sends it (encode.ts's format, written out here to keep the sender fast). */
function packet(source: number): Buffer {
  uptimeMicros += 7;
  if (source % 2 === 0) {
    const seq = sequence[source]!++;
    return Buffer.from(`6,${seq},${uptimeMicros},-;${escapedChatter[source % CHATTER.length]!}\n`, "latin1");
  }
  const stamp = `[${(uptimeMicros / 1e6).toFixed(6).padStart(12)}]`;
  return Buffer.from(`<6>${stamp} ${CHATTER[source % CHATTER.length]!}\n`);
}

/** The three datagrams of one line of 1,024 "é" (2,048 bytes of UTF-8, then the newline). */
const worstLine = Buffer.from(`${"é".repeat(1024)}\n`);
const worstChunks = [worstLine.subarray(0, 1000), worstLine.subarray(1000, 2000), worstLine.subarray(2000)];
const worstPhase: number[] = [];

function worstPacket(source: number): Buffer {
  const phase = worstPhase[source] ?? 0;
  worstPhase[source] = (phase + 1) % worstChunks.length;
  return worstChunks[phase]!;
}

function sendPanicLog(source: number): void {
  const { datagrams } = encodePanic({ mode: source % 2 === 0 ? "extended" : "plain", ending: "hang" });
  for (const d of datagrams) sockets[source]!.send(d);
}

/** Sends at `rate` packets/s, as evenly as the event loop allows (it checks the clock between sends). */
async function run(request: RunRequest): Promise<RunReport> {
  const started = performance.now();
  let sent = 0;
  let source = 0;
  let panicsSent = false;
  await new Promise<void>((resolve) => {
    const step = () => {
      const elapsed = performance.now() - started;
      if (elapsed >= request.durationMs) {
        resolve();
        return;
      }
      if (!panicsSent && elapsed >= request.durationMs / 2) {
        for (const s of request.panicSources) sendPanicLog(s);
        panicsSent = true;
      }
      const due = Math.min((request.rate * elapsed) / 1000, sent + 2000);
      const next = request.payload === "worst" ? worstPacket : packet;
      for (; sent < due; sent++, source = (source + 1) % count) sockets[source]!.send(next(source));
      setImmediate(step);
    };
    step();
  });
  return { sent, elapsedMs: performance.now() - started };
}

process.on("message", (request: RunRequest) => {
  void run(request).then((report) => process.send!(report));
});
process.on("disconnect", () => process.exit(0));
process.send!("ready");
