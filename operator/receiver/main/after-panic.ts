// A covered node's kernel spoke after a panic its stream carried (continuity.ts): that kernel is alive, whatever
// the panic line said. A receive thread reports it once per panic; here it is checked against the node cache (the
// Node at that address, in that boot: a chain a forger anchored with a made-up boot id is dropped unwritten) and
// stamped on the Node as lastgasp.dev/netconsole-after-panic, "<boot id>/<the panic's sequence number>". The
// reconciler reads it before it acts on that panic (reconciler/corroboration/stream-verdict.ts) and refuses: the node is alive.
// Only one who sees the node's stream can make such a record, and such an attacker can drop the panic anyway.
import { afterPanicStamp, isAnchoredBy } from "../../api/kernelpanicevent.ts";
import { ANNOTATIONS } from "../../api/keys.ts";
import type { NodeIdentity } from "../../kube/reader.ts";
import type { ClusterWriter } from "../../kube/writer.ts";
import type { Logger } from "../../log.ts";
import type { StreamAfterPanic } from "../ingest-messages.ts";
import type { AfterPanicResult, ReceiverMetrics } from "../metrics.ts";

export interface AfterPanicCluster {
  /** The Node the node cache knows at this address, if any. */
  identityOf(hostIP: string): NodeIdentity | undefined;
  annotateNode(name: string, annotations: Record<string, string>): Promise<void>;
}

/** The node cache is the gate's (refreshed as panics need it); the writes share coverage's API caller. */
export function afterPanicCluster(
  nodes: { identityOf(hostIP: string): NodeIdentity | undefined },
  writer: ClusterWriter,
): AfterPanicCluster {
  return {
    identityOf: (hostIP) => nodes.identityOf(hostIP),
    annotateNode: async (name, annotations) => writer.annotateNode(name, annotations),
  };
}

/** Stamps written at once; more are dropped (counted as busy): only a covered node's own stream makes them. */
const MAX_IN_FLIGHT = 16;

export class AfterPanicRecorder {
  private readonly cluster: AfterPanicCluster;
  private readonly metrics: ReceiverMetrics;
  private readonly log: Logger;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(cluster: AfterPanicCluster, metrics: ReceiverMetrics, log: Logger) {
    this.cluster = cluster;
    this.metrics = metrics;
    this.log = log;
  }

  heard(after: StreamAfterPanic): void {
    const identity = this.cluster.identityOf(after.hostIP);
    const anchored =
      identity !== undefined &&
      isAnchoredBy({ node: after.node, bootID: after.bootId }, { name: identity.node, bootID: identity.bootID });
    if (!anchored) {
      this.count("unverified");
      return;
    }
    if (this.inFlight.size >= MAX_IN_FLIGHT) {
      this.count("busy");
      return;
    }
    const work = this.stamp(after).finally(() => this.inFlight.delete(work));
    this.inFlight.add(work);
  }

  /** Waits for the stamps under way. */
  async drain(): Promise<void> {
    await Promise.all(this.inFlight);
  }

  private async stamp(after: StreamAfterPanic): Promise<void> {
    try {
      await this.cluster.annotateNode(after.node, {
        [ANNOTATIONS.netconsoleAfterPanic]: afterPanicStamp(after.bootId, after.panicSequence),
      });
      this.count("written");
      this.log.warn("A node's kernel went on after its panic: the node is alive", {
        node: after.node,
        hostIP: after.hostIP,
        panicSequence: after.panicSequence,
        secondsAfterPanic: after.secondsAfterPanic,
      });
    } catch (err) {
      this.count("error");
      this.log.warn("Could not stamp a node whose kernel went on after its panic", {
        node: after.node,
        hostIP: after.hostIP,
        err,
      });
    }
  }

  private count(result: AfterPanicResult): void {
    this.metrics.streamAfterPanic.inc({ result });
  }
}
