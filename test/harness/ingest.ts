// The receiver's core (Ingest) with the receiver's default limits, collecting its panic reports: the unit tests'
// stand-in for a running receiver, without sockets or a cluster.
import { SourceAllowList } from "../../operator/net/addresses.ts";
import { loadPatterns } from "../../operator/panics/detector/patterns.ts";
import type { PanicReport } from "../../operator/receiver/ingest-messages.ts";
import { Ingest, type IngestOptions } from "../../operator/receiver/thread/ingest.ts";
import { ReceiverMetrics } from "../../operator/receiver/metrics.ts";
import type { StreamAfterPanic } from "../../operator/receiver/ingest-messages.ts";
import type { SelfTestHeard } from "../../operator/receiver/ingest-messages.ts";

/** The receiver's default limits, as plain values (a receive thread's start-up data is this plus CIDRs). */
export const TEST_INGEST_OPTIONS: Omit<IngestOptions, "allowList"> = {
  patterns: loadPatterns(),
  detector: { contextLines: 20, quietMs: 200, deadlineMs: 750, duplicateWindowMs: 600_000 },
  stream: { maxLineLength: 1024, maxRecordBytes: 8192, maxInFlight: 8, timeoutMs: 200 },
  maxSources: 100,
  maxBufferedBytes: 48 * 1024 * 1024,
  sourceIdleMs: 60_000,
  ratePerSecond: 1000,
  rateBurst: 1000,
};

export function testIngest(overrides: Partial<IngestOptions> = {}): {
  ingest: Ingest;
  metrics: ReceiverMetrics;
  reports: PanicReport[];
  selfTests: SelfTestHeard[];
  afterPanic: StreamAfterPanic[];
} {
  const reports: PanicReport[] = [];
  const selfTests: SelfTestHeard[] = [];
  const afterPanic: StreamAfterPanic[] = [];
  const metrics = new ReceiverMetrics();
  const ingest = new Ingest({ ...TEST_INGEST_OPTIONS, allowList: new SourceAllowList([]), ...overrides }, metrics, {
    panic: (r) => reports.push(r),
    selfTest: (h) => selfTests.push(h),
    streamAfterPanic: (h) => afterPanic.push(h),
  });
  return { ingest, metrics, reports, selfTests, afterPanic };
}
