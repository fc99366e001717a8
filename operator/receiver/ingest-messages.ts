// What the main thread (main/) and its receive threads (thread/ingest-worker.ts) say to each other: the only
// hand-off between the two rooms, which never import each other (hack/check-imports.ts).
import type { SelfTest } from "../api/selftest.ts";
import type { LogFormat } from "../log.ts";
import type { StreamLimits } from "../netconsole/stream.ts";
import type { Detection, DetectorOptions } from "../panics/detector/detector.ts";
import type { DetectionPatterns } from "../panics/detector/patterns.ts";

/** Ingest's settings, as plain values (thread/ingest.ts adds the allow-list it builds from CIDR text). */
export interface IngestSettings {
  readonly patterns: DetectionPatterns;
  readonly detector: DetectorOptions;
  readonly stream: StreamLimits;
  readonly maxSources: number;
  readonly maxBufferedBytes: number;
  readonly sourceIdleMs: number;
  readonly ratePerSecond: number;
  readonly rateBurst: number;
}

/** A panic a receive thread detected, with the address it came from: for the main thread's gate. */
export interface PanicReport extends Detection {
  readonly hostIP: string;
}

/** A node agent's self-test line heard (or its unavailable report): for the main thread's coverage. */
export interface SelfTestHeard extends SelfTest {
  readonly hostIP: string;
  /** Set for the agent's unavailable report: why this node cannot send its last gasp. */
  readonly unavailable?: string;
}

/**
 * A record that continued a covered node's stream AFTER_PANIC_USEC (thread/ingest.ts) or more past the panic it
 * carried: the kernel lived on. For main/after-panic.ts.
 */
export interface StreamAfterPanic extends SelfTest {
  readonly hostIP: string;
  /** The panic line's own sequence number (the event's spec.sequence). */
  readonly panicSequence: number;
  /** Kernel time from the panic line to the record that showed life. */
  readonly secondsAfterPanic: number;
}

/** A receive thread's start-up data: plain values only (it crosses a thread boundary by structured clone). */
export interface WorkerInit {
  /** Ingest's options with the allow-list as CIDR text (the thread builds its own). */
  readonly ingest: IngestSettings & { readonly allowedSourceCidrs: readonly string[] };
  readonly listen: readonly string[];
  readonly socketReceiveBufferBytes: number;
  /** auto: the batched-receive addon where it loads, else Node's dgram; dgram: always dgram. */
  readonly receivePath: "auto" | "dgram";
  readonly tickMs: number;
  readonly heartbeatMs: number;
  readonly logLevel: string;
  readonly logFormat: LogFormat;
  /** Which receive thread this is (0, 1, …), for logs. */
  readonly index: number;
}

/** recvmmsg: batches through the addon (thread/batch-udp.ts); dgram: Node's sockets (thread/udp.ts). */
export type ReceivePath = "recvmmsg" | "dgram";

/** What the pool is started with: every thread's init but its index. */
export type PoolInit = Omit<WorkerInit, "index">;

export type ToWorker = { readonly type: "metrics"; readonly id: number } | { readonly type: "stop" };

export type FromWorker =
  | {
      readonly type: "listening";
      readonly addresses: readonly string[];
      readonly ports: readonly number[];
      /** How the thread reads its sockets, and why not batched when it could not be. */
      readonly path: ReceivePath;
      readonly fallbackReason?: string;
    }
  | { readonly type: "failed"; readonly message: string }
  | { readonly type: "panic"; readonly report: PanicReport }
  | { readonly type: "selfTest"; readonly heard: SelfTestHeard }
  | { readonly type: "streamAfterPanic"; readonly heard: StreamAfterPanic }
  | { readonly type: "heartbeat"; readonly atMs: number; readonly broken: string | undefined }
  | { readonly type: "metrics"; readonly id: number; readonly json: object[] }
  | { readonly type: "stopped" };
