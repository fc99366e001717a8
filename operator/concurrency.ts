// Bounded concurrency: work over a list with at most `limit` items in flight, in list order; and periodic work
// that never overlaps itself.
import type { Clock } from "./clock.ts";

/** Runs `fn` over `items` with at most `limit` calls in flight; rejects with the first failure. */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Runs `work` now and then every `intervalMs`; a run still under way when the next is due makes that one be
 * skipped, so a slow run is never overlapped. A failure goes to `onError` and the next run happens as usual.
 * The returned function stops the timer and waits for the run under way.
 */
export function repeatEvery(
  clock: Clock,
  intervalMs: number,
  work: () => Promise<unknown>,
  onError: (err: unknown) => void,
): () => Promise<void> {
  let running: Promise<unknown> | undefined;
  const tick = () => {
    if (running !== undefined) return;
    running = work()
      .catch(onError)
      .finally(() => {
        running = undefined;
      });
  };
  tick();
  const cancel = clock.setInterval(tick, intervalMs);
  return async () => {
    cancel();
    await running;
  };
}
