// The blast-radius cap: at most `maxNodes`, and at most `maxPercent` % of the cluster's nodes, remediated in any
// sliding window. A correlated failure (or a flood of forged packets) must not empty a cluster. Events beyond
// the cap wait until the window allows, or until a person approves them.

export interface StormGuardOptions {
  readonly maxNodes: number;
  readonly maxPercent: number;
  readonly windowMs: number;
}

export type StormDecision =
  { readonly admitted: true } | { readonly admitted: false; readonly retryAfterMs: number; readonly message: string };

interface Admission {
  readonly atMs: number;
  readonly nodeName: string;
}

export class StormGuard {
  private readonly options: StormGuardOptions;
  /** Event name → when it was admitted, for which node. Seeded from the events' status: it survives restarts. */
  private readonly admitted = new Map<string, Admission>();

  constructor(options: StormGuardOptions) {
    this.options = options;
  }

  /** Notes an admission known from an event's status (after a restart or a leader change). */
  remember(name: string, atMs: number, nodeName: string): void {
    const known = this.admitted.get(name);
    if (known === undefined || known.atMs < atMs) this.admitted.set(name, { atMs, nodeName });
  }

  /** The cap for a cluster of `clusterSize` nodes: the smaller of both limits, and never below one node. */
  limit(clusterSize: number): number {
    return Math.max(1, Math.min(this.options.maxNodes, Math.floor((clusterSize * this.options.maxPercent) / 100)));
  }

  /**
   * `nodes` are the Nodes that exist now. Nodes remediated in the window may have been deleted: the percentage
   * is of the cluster as it was before them, so those are counted back in.
   */
  decide(
    event: { name: string; nodeName: string; approved: boolean },
    nowMs: number,
    nodes: ReadonlySet<string>,
  ): StormDecision {
    this.forgetBefore(nowMs - this.options.windowMs);
    const removed = new Set([...this.admitted.values()].map((a) => a.nodeName).filter((n) => !nodes.has(n)));
    const limit = this.limit(nodes.size + removed.size);
    if (event.approved || this.admitted.has(event.name) || this.admitted.size < limit) {
      if (!this.admitted.has(event.name)) this.admitted.set(event.name, { atMs: nowMs, nodeName: event.nodeName });
      return { admitted: true };
    }
    const oldest = Math.min(...[...this.admitted.values()].map((a) => a.atMs));
    const windowSeconds = Math.round(this.options.windowMs / 1000);
    return {
      admitted: false,
      // Never sooner than a second: a held event must not spin.
      retryAfterMs: Math.max(1000, oldest + this.options.windowMs - nowMs),
      message: `${this.admitted.size} nodes were remediated in the last ${windowSeconds} s (limit ${limit}: at most ${this.options.maxNodes} nodes and ${this.options.maxPercent}% of the cluster). Waiting; annotate lastgasp.dev/approve="true" to proceed now.`,
    };
  }

  private forgetBefore(cutoffMs: number): void {
    for (const [name, admission] of this.admitted) if (admission.atMs < cutoffMs) this.admitted.delete(name);
  }
}
