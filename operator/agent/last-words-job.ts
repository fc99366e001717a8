// Runs the recovery pass (recover-last-words.ts) at the agent's start and again every interval until a pass
// reported everything it found: the API server is often out of reach in the first seconds of a boot, and a
// record must not wait for the agent's next restart to be reported.
import type { Clock } from "../clock.ts";
import { repeatEvery } from "../concurrency.ts";
import { recoverLastWords, type RecoverDeps, type RecoverResult } from "./recover-last-words.ts";

export class LastWordsJob {
  private readonly deps: RecoverDeps;
  private readonly clock: Clock;
  private done = false;
  private stopRepeating: () => Promise<void> = () => Promise.resolve();

  constructor(deps: RecoverDeps, clock: Clock) {
    this.deps = deps;
    this.clock = clock;
  }

  /** One pass; logs what it found. */
  async runOnce(): Promise<RecoverResult> {
    const result = await recoverLastWords(this.deps);
    this.deps.log.info("Read the kernel logs this node kept", { ...result });
    return result;
  }

  start(intervalMs: number): void {
    this.stopRepeating = repeatEvery(
      this.clock,
      intervalMs,
      async () => {
        if (this.done) return;
        this.done = (await this.runOnce()).failed === 0;
      },
      (err) => {
        this.deps.log.warn("Could not read the kernel logs this node kept", { error: (err as Error).message });
      },
    );
  }

  async stop(): Promise<void> {
    await this.stopRepeating();
  }
}
