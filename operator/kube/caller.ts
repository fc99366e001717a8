// Every API request of the operator passes through one ApiCaller: a client-side rate limit (client-node has
// none; client-go defaults to 5 QPS), a per-request timeout, and retries of 429 Too Many Requests after the
// server's Retry-After, so API Priority and Fairness is honoured rather than hammered.
import type { Clock } from "../clock.ts";
import { classifyError } from "./errors.ts";

export interface CallerOptions {
  readonly qps: number;
  readonly burst: number;
  readonly requestTimeoutMs: number;
  /** 429s retried before the error is returned to the caller. */
  readonly throttleRetries: number;
  /** Told the outcome of every request sent (each retry is a request), for metrics. */
  readonly onResponse?: (outcome: RequestOutcome) => void;
}

/** What became of one request: answered, refused with 429 (API Priority and Fairness), or failed otherwise. */
export type RequestOutcome = "ok" | "throttled" | "error";

export class ApiCaller {
  private tokens: number;
  private updatedMs: number;
  private readonly options: CallerOptions;
  /** The clock of everything that reaches the API through this caller (its timeouts, watches, stamps). */
  readonly clock: Clock;

  constructor(options: CallerOptions, clock: Clock) {
    this.options = options;
    this.clock = clock;
    this.tokens = options.burst;
    this.updatedMs = clock.monotonicMs();
  }

  async call<T>(request: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      await this.acquire();
      try {
        const result = await this.withTimeout(request());
        this.options.onResponse?.("ok");
        return result;
      } catch (err) {
        const error = classifyError(err);
        this.options.onResponse?.(error.class === "Throttled" ? "throttled" : "error");
        if (error.class !== "Throttled" || attempt >= this.options.throttleRetries) throw err;
        await this.clock.sleep(error.retryAfterMs ?? 1000 * 2 ** attempt);
      }
    }
  }

  private async acquire(): Promise<void> {
    for (;;) {
      const now = this.clock.monotonicMs();
      this.tokens = Math.min(this.options.burst, this.tokens + ((now - this.updatedMs) / 1000) * this.options.qps);
      this.updatedMs = now;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await this.clock.sleep(Math.ceil(((1 - this.tokens) / this.options.qps) * 1000));
    }
  }

  private async withTimeout<T>(request: Promise<T>): Promise<T> {
    const timeoutMs = this.options.requestTimeoutMs;
    let cancel: (() => void) | undefined;
    const timeout = new Promise<never>((_, reject) => {
      cancel = this.clock.setTimeout(() => {
        reject(new Error(`request timed out after ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([request, timeout]);
    } finally {
      cancel?.();
    }
  }
}
