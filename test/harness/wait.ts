// Waiting for a condition with a deadline: the only way tests and the harness wait (never a bare sleep).
import { setTimeout as delay } from "node:timers/promises";

export interface WaitOptions {
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
  /** Names the condition in the timeout error. */
  readonly what: string;
}

/**
 * Calls `probe` until it returns a value other than undefined/false, and returns that value. Errors thrown by
 * `probe` count as "not yet"; the last one is reported if the deadline passes.
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  options: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const cause = lastError === undefined ? "" : `; last error: ${describe(lastError)}`;
      throw new Error(`timed out after ${options.timeoutMs ?? 30_000} ms waiting for ${options.what}${cause}`);
    }
    await delay(options.intervalMs ?? 50);
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : JSON.stringify(err);
}
