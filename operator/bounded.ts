// Bounded memory for state keyed by something outsiders choose (nodes, sources, workloads): a Map whose insertion
// order is its recency, trimmed from the oldest end.

/** Drops the map's oldest entries (insertion order) until it holds at most `max`. */
export function trimOldest<K, V>(map: Map<K, V>, max: number): void {
  for (const key of map.keys()) {
    if (map.size <= max) return;
    map.delete(key);
  }
}

/** Sets the entry as the newest: re-inserted last, so that trimOldest forgets it last. */
export function setNewest<K, V>(map: Map<K, V>, key: K, value: V): void {
  map.delete(key);
  map.set(key, value);
}
