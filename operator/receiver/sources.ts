// The per-source state table. Sources are keyed by address; the table never holds more than `maxSources`
// (the least recently heard is evicted to make room), and sources idle for `idleMs` are evicted by sweeps.
// A flood of packets from new (possibly forged) addresses therefore costs bounded memory.

export class SourceTable<S extends { lastSeenMs: number }> {
  // Map iteration order is insertion order: re-inserting on every packet keeps it least-recently-heard first.
  private readonly sources = new Map<string, S>();
  private readonly maxSources: number;
  private readonly create: (address: string, nowMs: number) => S;

  constructor(maxSources: number, create: (address: string, nowMs: number) => S) {
    this.maxSources = maxSources;
    this.create = create;
  }

  get size(): number {
    return this.sources.size;
  }

  /** The source's state, created if new. Returns the sources evicted to make room (to be flushed). */
  touch(address: string, nowMs: number): { source: S; evicted: [string, S][] } {
    const evicted: [string, S][] = [];
    let source = this.sources.get(address);
    if (source === undefined) {
      while (this.sources.size >= this.maxSources) {
        const oldest = this.sources.entries().next().value;
        if (oldest === undefined) break;
        this.sources.delete(oldest[0]);
        evicted.push(oldest);
      }
      source = this.create(address, nowMs);
    } else {
      this.sources.delete(address);
    }
    source.lastSeenMs = nowMs;
    this.sources.set(address, source);
    return { source, evicted };
  }

  /** Removes and returns sources not heard from for `idleMs`. */
  evictIdle(nowMs: number, idleMs: number): [string, S][] {
    const evicted: [string, S][] = [];
    for (const entry of this.sources) {
      if (nowMs - entry[1].lastSeenMs < idleMs) break; // least recently heard first: the rest are fresher
      this.sources.delete(entry[0]);
      evicted.push(entry);
    }
    return evicted;
  }

  /** Removes and returns the least recently heard source (to free memory). */
  evictOldest(): [string, S] | undefined {
    const oldest = this.sources.entries().next().value;
    if (oldest !== undefined) this.sources.delete(oldest[0]);
    return oldest;
  }

  /** The source's state without marking it heard (housekeeping must not keep a source alive). */
  peek(address: string): S | undefined {
    return this.sources.get(address);
  }

  entries(): IterableIterator<[string, S]> {
    return this.sources.entries();
  }
}
