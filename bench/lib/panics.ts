// A node's last gasp as the benchmarks send it: the demo's real oops-then-panic log, encoded byte for byte as
// netconsole sends it (plain or extended), from the node's own address, timed at the panic line's datagram.
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { encodeExtended, encodePlain } from "../../operator/netconsole/encode.ts";
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
}

export function panicLog(ending: PanicEnding): string[] {
  if (ending === "reboot") return demoLog;
  const panicLine = demoLog[panicIndex]!;
  const stamp = panicLine.slice(0, panicLine.indexOf("]") + 1);
  const reason = panicLine.slice(panicLine.indexOf("Kernel panic"));
  return [...demoLog.slice(0, panicIndex + 2), `${stamp} ---[ end ${reason} ]---`];
}

export function encodePanic(spec: PanicSpec): { datagrams: Buffer[]; panicDatagram: number } {
  const lines = panicLog(spec.ending);
  const encode = (l: string[]) =>
    spec.mode === "plain"
      ? encodePlain(l)
      : encodeExtended(l, {
          extended: true,
          release: "6.9.7-lastgasp",
          ...(spec.nodeName === undefined ? {} : { userdata: { node: spec.nodeName } }),
        });
  return { datagrams: encode(lines), panicDatagram: encode(lines.slice(0, panicIndex)).length };
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
    onSend: (index) => {
      if (index === panicDatagram) sentAt = performance.now();
    },
  });
  return sentAt;
}

/** The i-th address of a /16 of loopback, skipping .0 and .255: 250 per third octet. */
export function loopbackAddress(secondOctet: number, i: number): string {
  return `127.${secondOctet}.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;
}
