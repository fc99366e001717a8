// The Nodes' addresses as a Node watch keeps them, for the gate (gate.ts): a node that joined is known within
// moments of its creation, where a periodic LIST knew it only at the next refresh (a panic from it waited up to
// the minimum refresh interval, 2 s). Each Node is kept as its addresses and identity only. While the watch is
// not open (before its first list, or down) it says nothing, and the gate lists the addresses as before.
import type { Clock } from "../../clock.ts";
import { addAddresses, type NodeAddressEntry, type NodeIdentity } from "../../kube/reader.ts";
import { keepWatching, type WatchHealth } from "../../kube/watch.ts";
import type { Logger } from "../../log.ts";

/** The watch as this uses it (kube/reader.ts's watchNodeAddresses). */
export interface NodeAddressWatch {
  start(): Promise<void>;
  stop(): void;
  cached(): NodeAddressEntry[] | undefined;
  readonly version: number;
  health(): WatchHealth;
}

export interface NodeAddressWatchSource {
  watchNodeAddresses(options: {
    onRestart: (error: string, retryInMs: number) => void;
    resyncMs: number;
  }): NodeAddressWatch;
}

export interface NodeAddressesDeps {
  readonly source: NodeAddressWatchSource;
  readonly log: Logger;
  readonly clock: Clock;
  readonly retryMs: number;
}

/** Nothing is done per Node at a resync: the cache is read, never pushed. */
const RESYNC_MS = 10 * 60_000;

export class NodeAddresses {
  private readonly deps: NodeAddressesDeps;
  private watch: NodeAddressWatch | undefined;
  /** The address map made from the watch's cache at one version of it. */
  private made: { version: number; addresses: ReadonlyMap<string, NodeIdentity> } | undefined;

  constructor(deps: NodeAddressesDeps) {
    this.deps = deps;
  }

  /** Starts watching (in the background, retried until it starts); returns the stop. */
  start(): () => void {
    const { log, clock, retryMs } = this.deps;
    const watch = this.deps.source.watchNodeAddresses({
      resyncMs: RESYNC_MS,
      onRestart: (error, retryInMs) => {
        log.warn("Node watch failed; restarting (the gate lists node addresses meanwhile)", { error, retryInMs });
      },
    });
    this.watch = watch;
    const stop = keepWatching(watch, {
      clock,
      retryMs,
      onStartFailed: (error, retryInMs) => {
        log.warn("Could not start watching Nodes; retrying (the gate lists node addresses meanwhile)", {
          error,
          retryInMs,
        });
      },
    });
    return () => {
      stop();
      this.watch = undefined;
      this.made = undefined;
    };
  }

  /** Every Node address, with the Node that has it; undefined while the watch is not open. */
  current(): ReadonlyMap<string, NodeIdentity> | undefined {
    const watch = this.watch;
    if (watch === undefined || !watch.health().connected) return undefined;
    if (this.made?.version === watch.version) return this.made.addresses;
    const version = watch.version;
    const entries = watch.cached();
    if (entries === undefined) return undefined;
    const addresses = new Map<string, NodeIdentity>();
    for (const entry of entries) addAddresses(addresses, entry);
    this.made = { version, addresses };
    return addresses;
  }
}
