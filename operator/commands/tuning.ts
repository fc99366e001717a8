// The numbers the composition roots build the components with that are not settings: each named, with why it
// has its value. Settings (operator/config/) are what a user tunes; these are what we chose for them.
import type { CallerOptions } from "../kube/caller.ts";

type ApiBudget = Omit<CallerOptions, "onResponse">;

/** One API request that takes longer than this is abandoned (and retried by its caller if worth it). */
export const REQUEST_TIMEOUT_MS = 10_000;

/**
 * The receiver's panic writes: rare, and retried by its own recorder with backoff, so a modest rate and no 429
 * retries inside the caller (the recorder's queue decides, and counts).
 */
export const RECEIVER_API: ApiBudget = { qps: 20, burst: 50, requestTimeoutMs: REQUEST_TIMEOUT_MS, throttleRetries: 0 };

/**
 * Coverage stamps (a read and a write per node and self-test interval): a caller of their own, so that they
 * never delay a panic's record; 5,000 nodes every 5 minutes average ~33 requests/s.
 */
export const COVERAGE_API: ApiBudget = {
  qps: 50,
  burst: 100,
  requestTimeoutMs: REQUEST_TIMEOUT_MS,
  throttleRetries: 0,
};

/** The reconciler retries 429 itself (after Retry-After): a remediation must not fail over APF's pushback. */
export const RECONCILER_THROTTLE_RETRIES = 5;

/** The receiver's panic writes in flight at once. */
export const RECEIVER_WRITE_CONCURRENCY = 4;
/** Backoff of a failed panic write: fast first (an API blip), capped so a long outage still retries often. */
export const RECEIVER_WRITE_BACKOFF_MS = { initial: 100, max: 10_000 } as const;
/** Coverage stamps in flight at once. */
export const COVERAGE_MAX_IN_FLIGHT = 16;
/** Fragmented extended records being reassembled per source at once (the kernel sends one at a time). */
export const FRAGMENTS_IN_FLIGHT_PER_SOURCE = 8;

/** A failed reconcile is retried after this, doubling up to the maximum. */
export const RECONCILE_BACKOFF_MS = { initial: 500, max: 60_000 } as const;
/** Waiting before another try when the first watch could not be opened. */
export const WATCH_START_RETRY_MS = 2000;
/** Nodes the forgery guard remembers at most: the scale envelope's 5,000 nodes, twice. */
export const FORGERY_MAX_NODES = 10_000;
/** Nodes whose recent panics the crash-loop check remembers (the least recently panicked forgotten first). */
export const CRASH_LOOP_MAX_NODES = 10_000;
/** Nodes whose probe baseline is kept at most (the least recently probed forgotten first). */
export const PROBE_MAX_NODES = 20_000;
/** Workloads the cascade tracker remembers (each: up to 16 sightings of a few dozen bytes). */
export const CASCADE_MAX_WORKLOADS = 10_000;

/**
 * Leader election, as client-go's defaults (15 s lease, 10 s renew deadline, 2 s retry): a dead leader is
 * replaced within ~15 s, and a leader cut off from the API server stops acting before its lease can expire.
 */
export const LEADER_ELECTION = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 } as const;

/** Readiness re-checks the component's permissions this often (a SelfSubjectAccessReview per permission). */
export const ACCESS_CHECK_INTERVAL_MS = 30_000;

/** An urgent node-address refresh (a panic from an unknown address) at most this often. */
export const MIN_NODE_REFRESH_MS = 2000;
/** Panics from unknown addresses held at once while the node addresses are listed again. */
export const MAX_UNVERIFIED_PANICS = 256;
/** Each receive thread tells the main thread it is alive this often (liveness fails after 10 s of silence). */
export const RECEIVE_THREAD_HEARTBEAT_MS = 1000;

/**
 * A receive thread's heap (see ThreadHeap in receiver/main/ingest-pool.ts): a young generation of this many MiB, and
 * an old generation of the base plus this multiple of the thread's share of maxBufferedBytes (the budget
 * charges a string's characters, V8 adds headers, the ring's arrays and garbage not yet collected).
 */
export const RECEIVE_THREAD_HEAP = { youngMb: 8, oldBaseMb: 32, oldPerBudgetMb: 2 } as const;

/**
 * The receiver's resident memory at its worst (every source of maxSources filled with the longest two-byte lines,
 * 50,000 datagrams a second), run with the chart's heap flags: about this base plus this much per receive thread.
 * Measured (docs/benchmarks.md, S5 by receive threads): peaks of 225, 249, 332, 497 and 740 MiB at 1, 2, 4, 8
 * and 16 threads after a 20 s flood; rounded up, so that a thread count chosen by it stays under the limit.
 */
export const RECEIVER_MEMORY_MIB = { base: 190, perThread: 40 } as const;

/** Remediations under way whose pod counts are kept between passes (far above the storm guard's cap). */
export const REMEDIATIONS_IN_PROGRESS_MAX = 1000;
