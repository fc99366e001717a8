// Forging in progress: a real node panics once, so several NodeAlive refusals about one node in a short time
// mean someone is sending panic packets in its name. The node is then held: its further events wait for a
// person's approval (or for the hold to end), so an attacker who keeps trying gets no more lease checks to race.

import { setNewest, trimOldest } from "../../bounded.ts";

export interface ForgeryGuardOptions {
  /** NodeAlive refusals within `windowMs` that make a node suspect. */
  readonly threshold: number;
  readonly windowMs: number;
  /** How long a suspect node's events need approval after its last refusal. */
  readonly holdMs: number;
  /** Nodes remembered at most (the least recently refused are forgotten first). */
  readonly maxNodes: number;
}

export class ForgeryGuard {
  private readonly options: ForgeryGuardOptions;
  /** Node name → refusal times (ms), oldest first, at most `threshold` kept. */
  private readonly refusals = new Map<string, number[]>();

  constructor(options: ForgeryGuardOptions) {
    this.options = options;
  }

  /**
   * Notes a NodeAlive refusal of `event` (once per event: a refusal read again after a restart or a resync
   * counts once). Returns true when this refusal made the node suspect: the moment to raise an Event.
   */
  refused(nodeName: string, atMs: number, event: string): boolean {
    if (this.counted.has(event)) return false;
    this.countedOnce(event);
    const wasHeld = this.heldUntil(nodeName, atMs) !== undefined;
    const times = [...(this.refusals.get(nodeName) ?? []), atMs]
      .filter((t) => atMs - t < this.options.windowMs)
      .sort((a, b) => a - b)
      .slice(-this.options.threshold);
    setNewest(this.refusals, nodeName, times); // the map stays least recently refused first
    this.bound();
    return !wasHeld && this.heldUntil(nodeName, atMs) !== undefined;
  }

  /** Until when (ms) the node's events need approval; undefined when it is not held. */
  heldUntil(nodeName: string, nowMs: number): number | undefined {
    const times = this.refusals.get(nodeName) ?? [];
    if (times.length < this.options.threshold) return undefined;
    const first = times[times.length - this.options.threshold]!;
    const last = times[times.length - 1]!;
    if (last - first >= this.options.windowMs) return undefined;
    const until = last + this.options.holdMs;
    return until > nowMs ? until : undefined;
  }

  /** Events already counted, bounded like the nodes. */
  private readonly counted = new Set<string>();

  private countedOnce(event: string): void {
    if (this.counted.size >= this.options.maxNodes * this.options.threshold) this.counted.clear();
    this.counted.add(event);
  }

  private bound(): void {
    trimOldest(this.refusals, this.options.maxNodes);
  }
}
