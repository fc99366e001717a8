// Every API request of the operator passes through one ApiCaller: a client-side rate limit (client-node has
// none; client-go defaults to 5 QPS), a per-request timeout, and retries of 429 Too Many Requests after the
// server's Retry-After, so API Priority and Fairness is honoured rather than hammered.
import { setTimeout as delay } from "node:timers/promises";
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
  private updatedMs = Date.now();
  private readonly options: CallerOptions;

  constructor(options: CallerOptions) {
    this.options = options;
    this.tokens = options.burst;
  }

  async call<T>(request: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      await this.acquire();
      try {
        const result = await withTimeout(request(), this.options.requestTimeoutMs);
        this.options.onResponse?.("ok");
        return result;
      } catch (err) {
        const error = classifyError(err);
        this.options.onResponse?.(error.class === "Throttled" ? "throttled" : "error");
        if (error.class !== "Throttled" || attempt >= this.options.throttleRetries) throw err;
        await delay(error.retryAfterMs ?? 1000 * 2 ** attempt);
      }
    }
  }

  private async acquire(): Promise<void> {
    for (;;) {
      const now = Date.now();
      this.tokens = Math.min(this.options.burst, this.tokens + ((now - this.updatedMs) / 1000) * this.options.qps);
      this.updatedMs = now;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await delay(Math.ceil(((1 - this.tokens) / this.options.qps) * 1000));
    }
  }
}

async function withTimeout<T>(request: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`request timed out after ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([request, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
