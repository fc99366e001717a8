// Coverage: the node agent's self-test line, heard from a node, marks that node as able to send its last gasp.
// The receiver checks the line's node name against the packet's source address (the Node must have that
// address: a forged line cannot mark another node covered from elsewhere) and stamps the Node with
// `lastgasp.dev/netconsole-last-seen`, at most once per interval per node, whichever receiver replica heard it.
// Self-test lines are untrusted input: every outcome (not only a write) is remembered for the interval, and the
// lookups under way are capped, so a flood of lines cannot turn into a flood of API requests or of memory.
import type { V1Node } from "@kubernetes/client-node";
import { ANNOTATIONS } from "../../api/keys.ts";
import { classifyError } from "../../kube/errors.ts";
import type { Logger } from "../../log.ts";
import type { ClusterReader } from "../../kube/reader.ts";
import type { ClusterWriter } from "../../kube/writer.ts";
import type { SelfTestHeard } from "../ingest-messages.ts";
import type { ReceiverMetrics, SelfTestResult } from "../metrics.ts";

export interface CoverageCluster {
  getNode(name: string): Promise<V1Node | undefined>;
  annotateNode(name: string, annotations: Record<string, string | null>): Promise<void>;
}

export function coverageCluster(reader: ClusterReader, writer: ClusterWriter): CoverageCluster {
  return {
    getNode: async (name) => reader.getNode(name),
    annotateNode: async (name, annotations) => writer.annotateNode(name, annotations),
  };
}

export interface CoverageOptions {
  /** A node's annotation is written (and a node name looked up) at most this often. */
  readonly intervalMs: number;
  /** Node names remembered at once (bounded like the receiver's sources; the oldest is forgotten). */
  readonly maxNodes: number;
  /** Self-tests being checked at once; more are dropped (counted as busy) until one finishes. */
  readonly maxInFlight: number;
}

export class CoverageRecorder {
  private readonly cluster: CoverageCluster;
  private readonly options: CoverageOptions;
  private readonly metrics: ReceiverMetrics;
  private readonly log: Logger;
  /** Node name → when it was last checked (or known stamped); insertion order is age, for eviction. */
  private readonly checked = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(cluster: CoverageCluster, options: CoverageOptions, metrics: ReceiverMetrics, log: Logger) {
    this.cluster = cluster;
    this.options = options;
    this.metrics = metrics;
    this.log = log;
  }

  /** Takes one heard self-test; the write happens in the background (see `drain`). */
  heard(test: SelfTestHeard, nowMs: number): void {
    // A node's self-tests and its unavailable reports are throttled apart: one never hides the other.
    const key = test.unavailable === undefined ? test.node : `${test.node} unavailable`;
    if (this.inFlight.has(key) || this.recent(this.checked.get(key), nowMs)) {
      this.count("throttled");
      return;
    }
    if (this.inFlight.size >= this.options.maxInFlight) {
      this.count("busy");
      return;
    }
    const work = this.record(test, nowMs)
      .then((result) => {
        // A failed request is tried again at the next self-test; any answer holds for the interval.
        if (result !== "error" && result !== "throttled") this.remember(key, nowMs);
        this.count(result);
      })
      .finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, work);
  }

  /** Waits for the writes under way. */
  async drain(): Promise<void> {
    await Promise.all(this.inFlight.values());
  }

  private async record(test: SelfTestHeard, nowMs: number): Promise<SelfTestResult> {
    try {
      const node = await this.cluster.getNode(test.node);
      if (node === undefined) return "unknown_node";
      const addresses = (node.status?.addresses ?? []).map((a) => a.address);
      if (!addresses.includes(test.hostIP)) {
        this.log.warn("Ignored netconsole self-test from an address not of its node", {
          node: test.node,
          hostIP: test.hostIP,
          nodeAddresses: addresses,
        });
        return "address_mismatch";
      }
      if (test.unavailable !== undefined) return await this.recordUnavailable(node, test);
      const written = Date.parse(node.metadata?.annotations?.[ANNOTATIONS.netconsoleLastSeen] ?? "");
      if (this.recent(written, nowMs)) {
        this.remember(test.node, written); // another replica stamped it
        return "throttled";
      }
      await this.cluster.annotateNode(test.node, {
        [ANNOTATIONS.netconsoleLastSeen]: new Date(nowMs).toISOString(),
        // Heard through the kernel: whatever the agent reported unavailable before is past.
        ...(node.metadata?.annotations?.[ANNOTATIONS.netconsoleUnavailable] === undefined
          ? {}
          : { [ANNOTATIONS.netconsoleUnavailable]: null }),
      });
      this.log.debug("Recorded netconsole coverage", { node: test.node, hostIP: test.hostIP, bootId: test.bootId });
      return "recorded";
    } catch (err) {
      this.log.warn("Failed to record netconsole coverage", {
        node: test.node,
        hostIP: test.hostIP,
        error: classifyError(err).message,
        err,
      });
      return "error";
    }
  }

  /** The agent says this node cannot send its last gasp: the reason goes on the Node (once per change). */
  private async recordUnavailable(node: V1Node, test: SelfTestHeard): Promise<SelfTestResult> {
    const reason = test.unavailable ?? "";
    if (node.metadata?.annotations?.[ANNOTATIONS.netconsoleUnavailable] === reason) return "unavailable";
    await this.cluster.annotateNode(test.node, { [ANNOTATIONS.netconsoleUnavailable]: reason });
    this.log.warn("A node's agent reports that it cannot send its last gasp", {
      node: test.node,
      hostIP: test.hostIP,
      reason,
    });
    return "unavailable";
  }

  private recent(writtenMs: number | undefined, nowMs: number): boolean {
    return writtenMs !== undefined && !Number.isNaN(writtenMs) && nowMs - writtenMs < this.options.intervalMs;
  }

  private remember(node: string, atMs: number): void {
    this.checked.delete(node);
    this.checked.set(node, atMs);
    if (this.checked.size > this.options.maxNodes) this.checked.delete(this.checked.keys().next().value!);
  }

  private count(result: SelfTestResult): void {
    this.metrics.selfTests.inc({ result });
  }
}
