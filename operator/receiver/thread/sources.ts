// The per-source state table. Sources are keyed by address; the table never holds more than `maxSources`
// (the least recently heard is evicted to make room), and sources idle for `idleMs` are evicted by sweeps.
// A flood of packets from new (possibly forged) addresses therefore costs bounded memory.
//
// Kept in order of when each source was last heard, to within one "epoch" (a second, or a quarter of the idle
// time if shorter): a source heard again in the epoch it was last placed in only has its time updated. Moving
// it to the back of the Map on every packet was a tenth of the receive thread's work at 150,000 packets/s.

export interface SourceTableOptions<S> {
  readonly maxSources: number;
  readonly idleMs: number;
  readonly create: (address: string, nowMs: number) => S;
  /** Called with each source evicted to make room for a new one (to be flushed), at the time of the touch. */
  readonly onEvicted?: (address: string, state: S, nowMs: number) => void;
}

interface Placed<S> {
  readonly state: S;
  /** The epoch in which the entry was last moved to the back: entries are in order of it. */
  epoch: number;
}

const MAX_EPOCH_MS = 1000;

export class SourceTable<S extends { lastSeenMs: number }> {
  private readonly sources = new Map<string, Placed<S>>();
  private readonly options: SourceTableOptions<S>;
  private readonly epochMs: number;

  constructor(options: SourceTableOptions<S>) {
    this.options = options;
    this.epochMs = Math.max(1, Math.min(MAX_EPOCH_MS, Math.floor(options.idleMs / 4)));
  }

  get size(): number {
    return this.sources.size;
  }

  /** The source's state, marked heard now; created if new, after evicting the least recently heard if full. */
  touch(address: string, nowMs: number): S {
    const epoch = Math.floor(nowMs / this.epochMs);
    const placed = this.sources.get(address);
    if (placed !== undefined) {
      placed.state.lastSeenMs = nowMs;
      if (placed.epoch !== epoch) {
        this.sources.delete(address);
        placed.epoch = epoch;
        this.sources.set(address, placed);
      }
      return placed.state;
    }
    while (this.sources.size >= this.options.maxSources) {
      const oldest = this.evictOldest();
      if (oldest === undefined) break;
      this.options.onEvicted?.(oldest[0], oldest[1], nowMs);
    }
    const state = this.options.create(address, nowMs);
    state.lastSeenMs = nowMs;
    this.sources.set(address, { state, epoch });
    return state;
  }

  /** Removes and returns sources not heard from for `idleMs`. */
  evictIdle(nowMs: number): [string, S][] {
    const evicted: [string, S][] = [];
    const idleBefore = nowMs - this.options.idleMs;
    for (const [address, placed] of this.sources) {
      // Entries are in epoch order: once an epoch starts after the idle limit, every source from there on was
      // heard since. Within the epoch that straddles the limit, each source is looked at.
      if (placed.epoch * this.epochMs > idleBefore) break;
      if (placed.state.lastSeenMs > idleBefore) continue;
      this.sources.delete(address);
      evicted.push([address, placed.state]);
    }
    return evicted;
  }

  /** Removes and returns the least recently heard source (to free memory). */
  evictOldest(): [string, S] | undefined {
    const oldest = this.sources.entries().next().value;
    if (oldest === undefined) return undefined;
    this.sources.delete(oldest[0]);
    return [oldest[0], oldest[1].state];
  }

  /** The source's state without marking it heard (housekeeping must not keep a source alive). */
  peek(address: string): S | undefined {
    return this.sources.get(address)?.state;
  }

  *entries(): IterableIterator<[string, S]> {
    for (const [address, placed] of this.sources) yield [address, placed.state];
  }
}
