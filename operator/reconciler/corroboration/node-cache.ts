// The cluster's Nodes as a watch last saw them, so that finding a panicked node costs one GET instead of a LIST of
// every Node per reconcile (at 5,000 nodes, each pass read them all). Run by the leader beside reconciling. It
// only narrows the search: find-node.ts reads the node it names fresh, and falls back to a LIST whenever the cache
// cannot answer (before its first list, while its watch is down) or answers anything but one acceptable node.
import type { V1Node } from "@kubernetes/client-node";
import type { Clock } from "../../clock.ts";
import { keepWatching } from "../../kube/watch.ts";
import type { Logger } from "../../log.ts";

/** The Node watch as the cache uses it (kube/reader.ts's watchNodes). */
export interface NodeWatch {
  start(): Promise<void>;
  stop(): void;
  /** The Nodes as last seen while the watch is open; undefined otherwise. */
  cached(): V1Node[] | undefined;
}

export interface NodeWatchSource {
  watchNodes(options: { onRestart: (error: string, retryInMs: number) => void; resyncMs: number }): NodeWatch;
}

export interface NodeCacheDeps {
  readonly source: NodeWatchSource;
  readonly log: Logger;
  readonly clock: Clock;
  /** After a failed start (the first list, or the first watch), the next try is this much later. */
  readonly retryMs: number;
}

/** Nothing is done per Node at a resync: the cache is read, never pushed. */
export const NODE_WATCH_RESYNC_MS = 10 * 60_000;

/** A leader task (loop/controller.ts): started when leading, stopped when not. */
export class NodeCache {
  private watch: NodeWatch | undefined;
  private readonly deps: NodeCacheDeps;

  constructor(deps: NodeCacheDeps) {
    this.deps = deps;
  }

  start(): () => Promise<void> {
    const { log, clock, retryMs } = this.deps;
    const watch = this.deps.source.watchNodes({
      resyncMs: NODE_WATCH_RESYNC_MS,
      onRestart: (error, retryInMs) => {
        log.warn("Node watch failed; restarting (reconciles list the Nodes meanwhile)", { error, retryInMs });
      },
    });
    this.watch = watch;
    const stop = keepWatching(watch, {
      clock,
      retryMs,
      onStartFailed: (error, retryInMs) => {
        log.warn("Could not start watching Nodes; retrying (reconciles list the Nodes meanwhile)", {
          error,
          retryInMs,
        });
      },
    });
    return () => {
      stop();
      if (this.watch === watch) this.watch = undefined;
      return Promise.resolve();
    };
  }

  /** Every Node, trimmed (kube/reader.ts's trimNode); undefined when the cache cannot be trusted to be current. */
  snapshot(): readonly V1Node[] | undefined {
    return this.watch?.cached();
  }
}
