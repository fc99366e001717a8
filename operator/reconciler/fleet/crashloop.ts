// The node that keeps dying: a node that panics, reboots and panics again should be quarantined, not put back
// into service each time. Panics are counted by node name (a deleted Node re-registers under its name) from
// every event the reconciler sees, so the count survives restarts and leader changes: it is read back from the
// events, which are kept for eventTtlSeconds.

import { setNewest, trimOldest } from "../../bounded.ts";

export interface CrashLoopOptions {
  /** Panics of one node within `windowMs` that make a crash loop; 0 turns the check off. */
  readonly threshold: number;
  readonly windowMs: number;
  /** Nodes remembered at most (the least recently panicked are forgotten first). */
  readonly maxNodes: number;
}

interface Panic {
  readonly atMs: number;
  readonly event: string;
}

export class CrashLoopTracker {
  private readonly options: CrashLoopOptions;
  /** Node name → its panics, oldest first, at most `threshold` kept. */
  private readonly panics = new Map<string, Panic[]>();

  constructor(options: CrashLoopOptions) {
    this.options = options;
  }

  /** Notes a panic of the node (once per event, however often the event is read). */
  panicked(nodeName: string, atMs: number, event: string): void {
    if (this.options.threshold === 0 || nodeName === "") return;
    const known = this.panics.get(nodeName) ?? [];
    if (known.some((p) => p.event === event)) return;
    const kept = [...known, { atMs, event }].sort((a, b) => a.atMs - b.atMs).slice(-this.options.threshold);
    setNewest(this.panics, nodeName, kept); // the map stays least recently panicked first
    trimOldest(this.panics, this.options.maxNodes);
  }

  /** The events of the node's last `threshold` panics when they all fell within the window; else undefined. */
  loop(nodeName: string): string[] | undefined {
    const panics = this.panics.get(nodeName) ?? [];
    if (this.options.threshold === 0 || panics.length < this.options.threshold) return undefined;
    const span = panics[panics.length - 1]!.atMs - panics[0]!.atMs;
    return span < this.options.windowMs ? panics.map((p) => p.event) : undefined;
  }
}
