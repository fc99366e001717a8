// Watches a scenario's pods and Nodes and timestamps each node's remediation: every pod deleted after being
// marked Failed, annotated and given a DisruptionTarget condition, and the Node gone.
import type { KubeConfig, V1Node, V1Pod } from "@kubernetes/client-node";
import { ANNOTATIONS, DISRUPTION_TARGET, REASON_CODE } from "../../operator/api/keys.ts";
import { waitFor } from "../../test/harness/wait.ts";
import { RUN_LABEL, watchFrom } from "./cluster.ts";

interface NodeProgress {
  podsLeft: number;
  /** Pods deleted without the marks lastgasp must leave on them. */
  unexplained: number;
  lastPodDeletedAt: number;
  nodeDeletedAt?: number;
}

/** True when the pod, as it was deleted, says why: Failed, DisruptionTarget, lastgasp's annotations. */
export function explained(pod: V1Pod): boolean {
  return (
    pod.status?.phase === "Failed" &&
    pod.metadata?.annotations?.[ANNOTATIONS.terminationReasonCode] === REASON_CODE &&
    (pod.status.conditions ?? []).some((c) => c.type === DISRUPTION_TARGET && c.status === "True")
  );
}

export class RemediationTracker {
  private readonly progress = new Map<string, NodeProgress>();
  private stops: (() => void)[] = [];

  private constructor(nodes: ReadonlyMap<string, number>) {
    for (const [name, pods] of nodes) {
      this.progress.set(name, { podsLeft: pods, unexplained: 0, lastPodDeletedAt: 0 });
    }
  }

  /** Starts watching; `nodes` maps each node name to the number of pods it has now. */
  static async start(kc: KubeConfig, scenario: string, nodes: ReadonlyMap<string, number>) {
    const tracker = new RemediationTracker(nodes);
    const labelSelector = `${RUN_LABEL}=${scenario}`;
    const pods = await watchFrom<V1Pod>(kc, "/api/v1/pods", { labelSelector }, (type, pod, at) => {
      if (type === "DELETED") tracker.podDeleted(pod, at);
    });
    const nodeWatch = await watchFrom<V1Node>(kc, "/api/v1/nodes", { labelSelector }, (type, node, at) => {
      const p = tracker.progress.get(node.metadata?.name ?? "");
      if (type === "DELETED" && p !== undefined) p.nodeDeletedAt = at;
    });
    tracker.stops = [pods.stop, nodeWatch.stop];
    return tracker;
  }

  private podDeleted(pod: V1Pod, at: number): void {
    const p = this.progress.get(pod.spec?.nodeName ?? "");
    if (p === undefined) return;
    p.podsLeft--;
    p.lastPodDeletedAt = Math.max(p.lastPodDeletedAt, at);
    if (!explained(pod)) p.unexplained++;
  }

  /** performance.now() at which the node was fully remediated, or undefined while it is not. */
  doneAt(node: string): number | undefined {
    const p = this.progress.get(node);
    if (p === undefined || p.podsLeft > 0 || p.nodeDeletedAt === undefined) return undefined;
    return Math.max(p.lastPodDeletedAt, p.nodeDeletedAt);
  }

  unexplained(node: string): number {
    return this.progress.get(node)?.unexplained ?? 0;
  }

  async waitDone(nodes: readonly string[], timeoutMs: number): Promise<number[]> {
    try {
      return await waitFor(
        () => {
          const done = nodes.map((n) => this.doneAt(n));
          return done.every((d) => d !== undefined) ? done : undefined;
        },
        { what: `remediation of ${nodes.length} node(s)`, timeoutMs, intervalMs: 20 },
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}: ${this.describe(nodes)}`, { cause: err });
    }
  }

  private describe(nodes: readonly string[]): string {
    const left = nodes.map((n) => this.progress.get(n)!).filter((p) => p.podsLeft > 0 || !p.nodeDeletedAt);
    const pods = left.reduce((sum, p) => sum + Math.max(0, p.podsLeft), 0);
    return `${left.length} node(s) not done, ${pods} pod(s) not deleted`;
  }

  stop(): void {
    for (const stop of this.stops) stop();
  }
}
