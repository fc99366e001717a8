// Nodes whose kubelet port can go silent, for S2 with the probe on: their addresses live in a network namespace
// joined to the host by one veth pair (test/harness/netns.ts). Such a node answers the reconciler's probes with a
// reset (nothing listens) until it "dies": then a blackhole route in the namespace drops every reply to the
// host's probing address, so SYNs get no answer at all, as from a panicked kernel. The receiver listens on a
// second host address the blackhole leaves alone, and the panic is sent from inside the namespace, continuing the
// node's netconsole stream anchored by its agent's self-test (the reconciler acts on silence only beside that).
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { formatSelfTest } from "../../operator/api/selftest.ts";
import { encodeExtended } from "../../operator/netconsole/encode.ts";
import { hostLink, sendFromNamespace, type HostLink } from "../../test/harness/netns.ts";

const run = promisify(execFile);
const child = fileURLToPath(new URL("./send-panic-child.ts", import.meta.url));
/** Where each node's stream stands at its self-test: a day of uptime, a few thousand records. */
const SELF_TEST_SEQUENCE = 4000;
const SELF_TEST_UPTIME_USEC = 86_400e6;

export interface SilentNodes {
  /** Where the receiver must listen to hear these nodes. */
  readonly receiverHost: string;
  /** Gives the namespace node `i`'s address (answering), ending the previous node's silence. */
  add(i: number): Promise<string>;
  /** Silences every node of the namespace towards the reconciler's probes (not towards the receiver). */
  silence(): Promise<void>;
  /**
   * Node `name`'s agent writes its self-test (the node's name and `bootId`) from `from`: its netconsole stream is
   * anchored there, and its panic (sendPanic) continues it.
   */
  anchor(from: string, receiverPort: number, name: string, bootId: string): Promise<void>;
  /** Sends node `name`'s panic from `from`; resolves with the performance.now() at which the panic line left. */
  sendPanic(from: string, receiverPort: number, name: string): Promise<number>;
  remove(): Promise<void>;
}

export async function silentNodes(): Promise<SilentNodes> {
  const link: HostLink = await hostLink();
  let receiverHost: string;
  try {
    receiverHost = await link.addHostAddress(252);
  } catch (err) {
    await link.remove();
    throw err;
  }
  let silenced: { restore(): Promise<void> } | undefined;
  /** Each anchored node's stream: the self-test's sequence number and uptime, and when it was sent. */
  const streams = new Map<string, { seq: number; tsUsec: number; atMs: number }>();
  return {
    receiverHost,
    add: async (i) => {
      await silenced?.restore();
      silenced = undefined;
      return link.add(i);
    },
    silence: async () => {
      silenced = await link.dropRepliesToHost();
    },
    anchor: async (from, receiverPort, name, bootId) => {
      const stream = { seq: SELF_TEST_SEQUENCE, tsUsec: SELF_TEST_UPTIME_USEC, atMs: performance.now() };
      const line = `<13>[${(stream.tsUsec / 1e6).toFixed(6)}] ${formatSelfTest({ node: name, bootId })}`;
      const datagrams = encodeExtended([line], { extended: true, firstSequence: stream.seq });
      await sendFromNamespace(link.namespace, from, `${receiverHost}:${receiverPort}`, datagrams);
      streams.set(name, stream);
    },
    sendPanic: async (from, receiverPort, name) => {
      const stream = streams.get(name);
      // The kernel's clock moved as the receiver's did since the self-test (this process's clock stands for both).
      const continued =
        stream === undefined
          ? []
          : [String(stream.seq + 1), String(stream.tsUsec + Math.round((performance.now() - stream.atMs) * 1000))];
      const args = [
        "netns",
        "exec",
        link.namespace,
        process.execPath,
        child,
        from,
        receiverHost,
        String(receiverPort),
        name,
        ...continued,
      ];
      const { stdout } = await run("ip", args, { timeout: 30_000 });
      const { sentAtEpochMs } = JSON.parse(stdout) as { sentAtEpochMs: number };
      return sentAtEpochMs - performance.timeOrigin;
    },
    remove: () => link.remove(),
  };
}
