// Run inside a network namespace (`ip netns exec`): sends the datagrams given (base64) from an address of that
// namespace and netconsole's port (6665: one node's stream always comes from one port), in order, then exits.
// What a node, or someone spoofing a node's address, puts on the wire.
//   node netns-send-child.ts <from> <receiver host:port> <base64 datagram>...
import { sendDatagrams } from "../../operator/sender/send.ts";

/** netconsole's default local_port. */
const NETCONSOLE_LOCAL_PORT = 6665;

const [from, to, ...encoded] = process.argv.slice(2);
if (from === undefined || to === undefined || encoded.length === 0) {
  process.stderr.write("usage: netns-send-child.ts <from> <host:port> <base64 datagram>...\n");
  process.exit(2);
}
await sendDatagrams(
  encoded.map((d) => Buffer.from(d, "base64")),
  { to, from, fromPort: NETCONSOLE_LOCAL_PORT },
);
