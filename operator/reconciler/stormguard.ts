// The blast-radius cap: at most `maxNodes`, and at most `maxPercent` % of the cluster's nodes, remediated in any
// sliding window. A correlated failure (or a flood of forged packets) must not empty a cluster. Events beyond
// the cap wait until the window allows, or until a person approves them.

export interface StormGuardOptions {
  readonly maxNodes: number;
  readonly maxPercent: number;
  readonly windowMs: number;
  /** True when the node action keeps nodes (taint, none): they are still in the node count. */
  readonly remediatedNodesRemain: boolean;
}

export type StormDecision =
  { readonly admitted: true } | { readonly admitted: false; readonly retryAfterMs: number; readonly message: string };

export class StormGuard {
  private readonly options: StormGuardOptions;
  /** Event name → when it was admitted. Seeded from the events' status, so it survives restarts. */
  private readonly admitted = new Map<string, number>();

  constructor(options: StormGuardOptions) {
    this.options = options;
  }

  /** Notes an admission known from an event's status (after a restart or a leader change). */
  remember(name: string, atMs: number): void {
    this.admitted.set(name, Math.max(atMs, this.admitted.get(name) ?? 0));
  }

  /** The cap for a cluster of `clusterSize` nodes: the smaller of both limits, and never below one node. */
  limit(clusterSize: number): number {
    return Math.max(1, Math.min(this.options.maxNodes, Math.floor((clusterSize * this.options.maxPercent) / 100)));
  }

  /**
   * `nodeCount` is the nodes there are now. When remediation deletes nodes, those remediated in the window are
   * gone from it: the percentage is of the cluster as it was before them, not of what is left.
   */
  decide(name: string, nowMs: number, nodeCount: number, approved: boolean): StormDecision {
    this.forgetBefore(nowMs - this.options.windowMs);
    const limit = this.limit(this.options.remediatedNodesRemain ? nodeCount : nodeCount + this.admitted.size);
    if (approved || this.admitted.has(name) || this.admitted.size < limit) {
      this.admitted.set(name, this.admitted.get(name) ?? nowMs);
      return { admitted: true };
    }
    const oldest = Math.min(...this.admitted.values());
    const windowSeconds = Math.round(this.options.windowMs / 1000);
    return {
      admitted: false,
      retryAfterMs: Math.max(1000, oldest + this.options.windowMs - nowMs),
      message: `${this.admitted.size} nodes were remediated in the last ${windowSeconds} s (limit ${limit}: at most ${this.options.maxNodes} nodes and ${this.options.maxPercent}% of the cluster). Waiting; annotate lastgasp.dev/approve="true" to proceed now.`,
    };
  }

  private forgetBefore(cutoffMs: number): void {
    for (const [name, at] of this.admitted) if (at < cutoffMs) this.admitted.delete(name);
  }
}
