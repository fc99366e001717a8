// The receiver's core, free of sockets and of Kubernetes: datagrams from addresses in, panic reports out.
// Applies the allow-list and per-source rate limit, decodes the netconsole stream of each source, runs its
// panic detector, and keeps all of that state bounded. `tick` must be called regularly (it completes panics
// whose source went quiet, flushes partial lines, times out fragments and evicts idle sources).
import { parseSelfTest } from "../api/selftest.ts";
import type { SourceAllowList } from "./allowlist.ts";
import type { SelfTestHeard } from "./coverage.ts";
import { PanicDetector, type Detection, type DetectorNotice, type DetectorOptions } from "./detector/detector.ts";
import type { DetectionPatterns } from "./detector/patterns.ts";
import { carriesPanicLine } from "./detector/marker.ts";
import type { ReceiverMetrics } from "./metrics.ts";
import type { KernelRecord } from "./netconsole/record.ts";
import { NetconsoleStream, type StreamLimits } from "./netconsole/stream.ts";
import { TokenBucket } from "./ratelimit.ts";
import { SourceTable } from "./sources.ts";

export interface IngestOptions {
  readonly patterns: DetectionPatterns;
  readonly detector: DetectorOptions;
  readonly stream: StreamLimits;
  readonly maxSources: number;
  readonly sourceIdleMs: number;
  readonly ratePerSecond: number;
  readonly rateBurst: number;
  readonly allowList: SourceAllowList;
}

export interface PanicReport extends Detection {
  readonly hostIP: string;
}

interface Source {
  lastSeenMs: number;
  readonly stream: NetconsoleStream;
  readonly detector: PanicDetector;
  readonly bucket: TokenBucket;
}

export class Ingest {
  private readonly options: IngestOptions;
  private readonly metrics: ReceiverMetrics;
  private readonly onPanic: (report: PanicReport) => void;
  private readonly onSelfTest: (heard: SelfTestHeard) => void;
  private readonly table: SourceTable<Source>;
  /** Sources holding a pending panic, a partial line or fragments: the only ones `tick` needs to visit. */
  private readonly unsettled = new Set<string>();

  constructor(
    options: IngestOptions,
    metrics: ReceiverMetrics,
    onPanic: (report: PanicReport) => void,
    onSelfTest: (heard: SelfTestHeard) => void = () => undefined,
  ) {
    this.options = options;
    this.metrics = metrics;
    this.onPanic = onPanic;
    this.onSelfTest = onSelfTest;
    this.table = new SourceTable(options.maxSources, (_address, nowMs) => this.newSource(nowMs));
  }

  get sourceCount(): number {
    return this.table.size;
  }

  /** Bytes held in partial lines and incomplete fragments, all sources together. */
  get bufferedBytes(): number {
    let bytes = 0;
    for (const address of this.unsettled) bytes += this.table.peek(address)?.stream.bufferedBytes ?? 0;
    return bytes;
  }

  datagram(address: string, data: Uint8Array, nowMs: number): void {
    this.metrics.packets.inc();
    this.metrics.bytes.inc(data.length);
    if (!this.options.allowList.allows(address)) {
      this.metrics.drops.inc({ reason: "not_allowed" });
      return;
    }
    const { source, evicted } = this.table.touch(address, nowMs);
    for (const [oldAddress, old] of evicted) this.retire(oldAddress, old, nowMs);
    if (!source.bucket.take(nowMs)) {
      if (!carriesPanicLine(data, this.options.patterns)) {
        this.metrics.drops.inc({ reason: "rate_limited" });
        return;
      }
      this.metrics.rateLimitBypassed.inc();
    }
    const result = source.stream.decode(data, nowMs);
    if (result.droppedFragments !== undefined)
      this.metrics.drops.inc({ reason: "fragment_evicted" }, result.droppedFragments);
    if (result.error !== undefined) {
      this.metrics.drops.inc({ reason: "parse_error" });
      this.metrics.parseErrors.inc({ kind: result.error });
    }
    this.feed(address, source, result.records, nowMs);
    this.track(address, source);
    this.metrics.sources.set(this.table.size);
  }

  tick(nowMs: number): void {
    for (const address of this.unsettled) {
      const source = this.table.peek(address);
      if (source === undefined) {
        this.unsettled.delete(address);
        continue;
      }
      this.settle(address, source, nowMs);
    }
    for (const [address, source] of this.table.evictIdle(nowMs, this.options.sourceIdleMs))
      this.retire(address, source, nowMs);
    this.metrics.sources.set(this.table.size);
    this.metrics.bufferedBytes.set(this.bufferedBytes);
  }

  /** Completes every pending panic now (shutdown): nothing detected is left behind. */
  drain(nowMs: number): void {
    for (const [address, source] of [...this.table.entries()]) this.retire(address, source, nowMs);
  }

  private newSource(nowMs: number): Source {
    const notice = (n: DetectorNotice) => {
      (n === "duplicate_panic" ? this.metrics.duplicatePanics : this.metrics.userspacePanics).inc();
    };
    return {
      lastSeenMs: nowMs,
      stream: new NetconsoleStream(this.options.stream),
      detector: new PanicDetector(this.options.patterns, this.options.detector, notice),
      bucket: new TokenBucket(this.options.ratePerSecond, this.options.rateBurst, nowMs),
    };
  }

  private feed(address: string, source: Source, records: readonly KernelRecord[], nowMs: number): void {
    for (const record of records) {
      if (record.truncated === true) this.metrics.truncatedLines.inc();
      const selfTest = parseSelfTest(record.text);
      if (selfTest !== undefined) this.onSelfTest({ ...selfTest, hostIP: address });
      for (const detection of source.detector.observe(record, nowMs)) this.report(address, detection);
    }
  }

  private settle(address: string, source: Source, nowMs: number): void {
    const quiet = nowMs - source.lastSeenMs >= this.options.detector.quietMs;
    const flushed = source.stream.flush(nowMs, quiet);
    if (flushed.droppedFragments > 0) this.metrics.drops.inc({ reason: "fragment_timeout" }, flushed.droppedFragments);
    this.feed(address, source, flushed.records, nowMs);
    const detection = source.detector.poll(nowMs);
    if (detection !== undefined) this.report(address, detection);
    this.track(address, source);
  }

  /** Forgets a source, completing whatever it still held. */
  private retire(address: string, source: Source, nowMs: number): void {
    // As if the fragment timeout had passed: incomplete records are salvaged or dropped now.
    const flushed = source.stream.flush(nowMs + this.options.stream.timeoutMs, true);
    if (flushed.droppedFragments > 0) this.metrics.drops.inc({ reason: "fragment_timeout" }, flushed.droppedFragments);
    this.feed(address, source, flushed.records, nowMs);
    const detection = source.detector.complete();
    if (detection !== undefined) this.report(address, detection);
    this.unsettled.delete(address);
  }

  private track(address: string, source: Source): void {
    if (source.detector.collecting || source.stream.bufferedBytes > 0) this.unsettled.add(address);
    else this.unsettled.delete(address);
  }

  private report(address: string, detection: Detection): void {
    this.metrics.panicsDetected.inc();
    this.onPanic({ ...detection, hostIP: address });
  }
}
