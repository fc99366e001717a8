// What the main thread and its receive threads (ingest-worker.ts) say to each other.
import type { StreamAfterPanic } from "./after-panic.ts";
import type { SelfTestHeard } from "./coverage.ts";
import type { IngestOptions, PanicReport } from "./ingest.ts";

/** A receive thread's start-up data: plain values only (it crosses a thread boundary by structured clone). */
export interface WorkerInit {
  /** Ingest's options with the allow-list as CIDR text (the thread builds its own). */
  readonly ingest: Omit<IngestOptions, "allowList"> & { readonly allowedSourceCidrs: readonly string[] };
  readonly listen: readonly string[];
  readonly socketReceiveBufferBytes: number;
  readonly tickMs: number;
  readonly heartbeatMs: number;
  readonly logLevel: string;
  /** Which receive thread this is (0, 1, …), for logs. */
  readonly index: number;
}

/** What the pool is started with: every thread's init but its index. */
export type PoolInit = Omit<WorkerInit, "index">;

export type ToWorker = { readonly type: "metrics"; readonly id: number } | { readonly type: "stop" };

export type FromWorker =
  | { readonly type: "listening"; readonly addresses: readonly string[]; readonly ports: readonly number[] }
  | { readonly type: "failed"; readonly message: string }
  | { readonly type: "panic"; readonly report: PanicReport }
  | { readonly type: "selfTest"; readonly heard: SelfTestHeard }
  | { readonly type: "streamAfterPanic"; readonly heard: StreamAfterPanic }
  | { readonly type: "heartbeat"; readonly atMs: number; readonly broken: string | undefined }
  | { readonly type: "metrics"; readonly id: number; readonly json: object[] }
  | { readonly type: "stopped" };
