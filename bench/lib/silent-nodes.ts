// Nodes whose kubelet port can go silent, for S2 with the probe on: their addresses live in a network namespace
// joined to the host by one veth pair (test/harness/netns.ts). Such a node answers the reconciler's probes with a
// reset (nothing listens) until it "dies": then a blackhole route in the namespace drops every reply to the
// host's probing address, so SYNs get no answer at all, as from a panicked kernel. The receiver listens on a
// second host address the blackhole leaves alone, and the panic is sent from inside the namespace.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { hostLink, type HostLink } from "../../test/harness/netns.ts";

const run = promisify(execFile);
const child = fileURLToPath(new URL("./send-panic-child.ts", import.meta.url));

export interface SilentNodes {
  /** Where the receiver must listen to hear these nodes. */
  readonly receiverHost: string;
  /** Gives the namespace node `i`'s address (answering), ending the previous node's silence. */
  add(i: number): Promise<string>;
  /** Silences every node of the namespace towards the reconciler's probes (not towards the receiver). */
  silence(): Promise<void>;
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
    sendPanic: async (from, receiverPort, name) => {
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
      ];
      const { stdout } = await run("ip", args, { timeout: 30_000 });
      const { sentAtEpochMs } = JSON.parse(stdout) as { sentAtEpochMs: number };
      return sentAtEpochMs - performance.timeOrigin;
    },
    remove: () => link.remove(),
  };
}
