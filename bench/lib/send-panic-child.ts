// Run inside a node's network namespace (`ip netns exec`): sends one panic from the node's own address, as
// sendPanic does from loopback, and prints the wall-clock time at which the panic line's datagram left. With a
// sequence number and an uptime, the panic continues the node's stream from there (see PanicSpec).
//   node send-panic-child.ts <from> <receiver host> <receiver port> <node name> [<sequence> <panic uptime µs>]
import { sendPanic } from "./panics.ts";

const [from, host, port, nodeName, sequence, uptime] = process.argv.slice(2);
if (from === undefined || host === undefined || port === undefined || nodeName === undefined) {
  process.stderr.write("usage: send-panic-child.ts <from> <receiver host> <receiver port> <node name>\n");
  process.exit(2);
}
const continueStream =
  sequence === undefined || uptime === undefined
    ? {}
    : { continueStream: { sequence: Number(sequence), panicUptimeUsec: Number(uptime) } };
const sentAt = await sendPanic(
  { mode: "extended", ending: "reboot", nodeName, ...continueStream },
  from,
  Number(port),
  host,
);
process.stdout.write(`${JSON.stringify({ sentAtEpochMs: performance.timeOrigin + sentAt })}\n`);
