// Runs the recovery pass (recover-last-words.ts) at the agent's start and again every interval until a pass
// reported everything it found: the API server is often out of reach in the first seconds of a boot, and a
// record must not wait for the agent's next restart to be reported. Every pass also keeps the Node's
// lastgasp.dev/last-words annotation current (last-words-coverage.ts).
import type { Clock } from "../clock.ts";
import { repeatEvery } from "../concurrency.ts";
import type { CoverageReporter } from "./last-words-coverage.ts";
import { recoverLastWords, type RecoverDeps, type RecoverResult } from "./recover-last-words.ts";

export class LastWordsJob {
  private readonly deps: RecoverDeps;
  private readonly coverage: Pick<CoverageReporter, "report">;
  private readonly clock: Clock;
  private done = false;
  private stopRepeating: () => Promise<void> = () => Promise.resolve();

  constructor(deps: RecoverDeps, coverage: Pick<CoverageReporter, "report">, clock: Clock) {
    this.deps = deps;
    this.coverage = coverage;
    this.clock = clock;
  }

  /** One pass; logs what it found. */
  async runOnce(): Promise<RecoverResult> {
    await this.reportCoverage();
    const result = await recoverLastWords(this.deps);
    this.deps.log.info("Read the kernel logs this node kept", { ...result });
    return result;
  }

  /** A failure to annotate the Node never keeps a panic from being reported. */
  private async reportCoverage(): Promise<void> {
    try {
      await this.coverage.report();
    } catch (err) {
      this.deps.log.warn("Could not annotate the Node with the last words it keeps", { error: (err as Error).message });
    }
  }

  start(intervalMs: number): void {
    this.stopRepeating = repeatEvery(
      this.clock,
      intervalMs,
      async () => {
        if (this.done) return this.reportCoverage();
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
