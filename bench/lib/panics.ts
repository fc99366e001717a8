// A node's last gasp as the benchmarks send it: the demo's real oops-then-panic log, encoded byte for byte as
// netconsole sends it (plain or extended), from the node's own address, timed at the panic line's datagram.
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { encodeExtended, encodePlain } from "../../operator/netconsole/encode.ts";
import { parsePlainLine } from "../../operator/netconsole/plain.ts";
import { sendDatagrams } from "../../operator/sender/send.ts";

const demoLog = readFileSync(new URL("../../hack/demo-panic.log", import.meta.url), "utf8")
  .trimEnd()
  .split("\n");
const panicIndex = demoLog.findIndex((line) => line.includes("Kernel panic - not syncing"));

/**
 * How the console ends: a kernel that reboots (panic_timeout set, the usual in a fleet) prints `Rebooting in N
 * seconds..` last and goes silent; a kernel that hangs prints the closing `---[ end Kernel panic` marker. Either
 * last line completes the receiver's context at once.
 */
export type PanicEnding = "reboot" | "hang";
export type NetconsoleMode = "plain" | "extended";

export interface PanicSpec {
  readonly mode: NetconsoleMode;
  readonly ending: PanicEnding;
  /** Node name sent as netconsole userdata in extended mode. */
  readonly nodeName?: string;
  /**
   * Where the node's stream stands (extended mode): the log's records continue from this sequence number, and its
   * timestamps are moved so that the panic line's is `panicUptimeUsec`, as a kernel's would be.
   */
  readonly continueStream?: { readonly sequence: number; readonly panicUptimeUsec: number };
}

export function panicLog(ending: PanicEnding): string[] {
  if (ending === "reboot") return demoLog;
  const panicLine = demoLog[panicIndex]!;
  const stamp = panicLine.slice(0, panicLine.indexOf("]") + 1);
  const reason = panicLine.slice(panicLine.indexOf("Kernel panic"));
  return [...demoLog.slice(0, panicIndex + 2), `${stamp} ---[ end ${reason} ]---`];
}

export function encodePanic(spec: PanicSpec): { datagrams: Buffer[]; panicDatagram: number } {
  const lines = retimed(panicLog(spec.ending), spec.continueStream?.panicUptimeUsec);
  const encode = (l: string[]) =>
    spec.mode === "plain"
      ? encodePlain(l)
      : encodeExtended(l, {
          extended: true,
          release: "6.9.7-lastgasp",
          ...(spec.nodeName === undefined ? {} : { userdata: { node: spec.nodeName } }),
          ...(spec.continueStream === undefined ? {} : { firstSequence: spec.continueStream.sequence }),
        });
  return { datagrams: encode(lines), panicDatagram: encode(lines.slice(0, panicIndex)).length };
}

/** The log with its console timestamps moved so that the panic line's is `panicUptimeUsec` (unchanged without). */
function retimed(lines: string[], panicUptimeUsec: number | undefined): string[] {
  if (panicUptimeUsec === undefined) return lines;
  const shift = panicUptimeUsec - (parsePlainLine(lines[panicIndex]!).tsUsec ?? 0);
  return lines.map((line) => {
    const { tsUsec } = parsePlainLine(line);
    if (tsUsec === undefined) return line;
    return line.replace(/^\[\s*\d+\.\d+\]/, `[${((tsUsec + shift) / 1e6).toFixed(6).padStart(12)}]`);
  });
}

/** Sends a whole panic log from `from`; resolves with the performance.now() at which the panic line left. */
export async function sendPanic(
  spec: PanicSpec,
  from: string,
  receiverPort: number,
  receiverHost = "127.0.0.1",
): Promise<number> {
  const { datagrams, panicDatagram } = encodePanic(spec);
  let sentAt = Number.NaN;
  await sendDatagrams(datagrams, {
    to: `${receiverHost}:${receiverPort}`,
    from,
    fromPort: NETCONSOLE_LOCAL_PORT,
    onSend: (index) => {
      if (index === panicDatagram) sentAt = performance.now();
    },
  });
  return sentAt;
}

/** netconsole's default local_port: one node's stream always comes from one port (and so to one receive thread). */
export const NETCONSOLE_LOCAL_PORT = 6665;

/** The i-th address of a /16 of loopback, skipping .0 and .255: 250 per third octet. */
export function loopbackAddress(secondOctet: number, i: number): string {
  return `127.${secondOctet}.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;
}
