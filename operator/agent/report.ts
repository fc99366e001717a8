// What the agent says when this node's kernel cannot send its last gasp (no configfs, no netconsole module, a
// kernel without dynamic netconsole targets): the unavailable report (api/selftest.ts), sent by the agent itself
// over UDP to every receiver, from the node's address as netconsole would. The receiver shows the reason on the
// Node (lastgasp.dev/netconsole-unavailable) and the reconciler counts the node as unavailable, not just unheard.
import { sendDatagrams } from "../sender/send.ts";

/** Sends one report line to each receiver; the first failure is thrown after every receiver was tried. */
export type UnavailableSender = (line: string) => Promise<void>;

export function udpReporter(receivers: readonly string[], sourceIp: string | undefined): UnavailableSender {
  return async (line) => {
    const failures: string[] = [];
    for (const to of receivers) {
      try {
        await sendDatagrams([Buffer.from(`${line}\n`)], { to, ...(sourceIp === undefined ? {} : { from: sourceIp }) });
      } catch (err) {
        failures.push(`${to}: ${(err as Error).message}`);
      }
    }
    if (failures.length > 0) throw new Error(`could not send the unavailable report to ${failures.join("; ")}`);
  };
}
