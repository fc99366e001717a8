// The receiver's core, free of sockets and of Kubernetes: datagrams from addresses in, panic reports out.
// Applies the allow-list and per-source rate limit, decodes the netconsole stream of each source, runs its
// panic detector, and keeps all of that state bounded: at most `maxSources` sources and `maxBufferedBytes` bytes
// of their state together. `tick` must be called regularly (it completes panics whose source went quiet,
// flushes partial lines, times out fragments and evicts idle sources).
import { parseSelfTest, parseUnavailable } from "../../api/selftest.ts";
import type { SourceAllowList } from "../../net/addresses.ts";
import { PanicDetector, type Detection, type DetectorNotice } from "../../panics/detector/detector.ts";
import { PanicMarker } from "../../panics/detector/marker.ts";
import type { ReceiverMetrics } from "../metrics.ts";
import type { KernelRecord } from "../../netconsole/record.ts";
import { NetconsoleStream } from "../../netconsole/stream.ts";
import type { IngestSettings, PanicReport, SelfTestHeard, StreamAfterPanic } from "../ingest-messages.ts";
import { StreamContinuity, type Continuous } from "../../panics/continuity.ts";
import { TokenBucket } from "./ratelimit.ts";
import { Triage } from "./shedding.ts";
import { SourceTable } from "./sources.ts";
import { limitKey } from "../../net/addresses.ts";

export interface IngestOptions extends IngestSettings {
  readonly allowList: SourceAllowList;
}

interface Source {
  lastSeenMs: number;
  readonly stream: NetconsoleStream;
  readonly detector: PanicDetector;
  readonly continuity: StreamContinuity;
  /** What this source was last charged to the byte budget. */
  bytes: number;
}

interface RateLimit {
  lastSeenMs: number;
  readonly bucket: TokenBucket;
}

/**
 * A source's fixed cost, beyond the text it holds: its decoder, reassembler, detector and map entries (measured
 * with --expose-gc over 10,000 sources: ~1.5 KiB; rounded up).
 */
const SOURCE_OVERHEAD_BYTES = 2048;
/** Strings are charged two bytes a character: V8 stores any string with a non-Latin-1 character that way. */
const BYTES_PER_CHAR = 2;

/** Where a receive thread's Ingest hands on what it found (each becomes a message to the main thread). */
export interface IngestOutlet {
  readonly panic: (report: PanicReport) => void;
  readonly selfTest: (heard: SelfTestHeard) => void;
  /** A covered node's kernel spoke well after a panic its stream carried: it is alive (after-panic.ts). */
  readonly streamAfterPanic: (heard: StreamAfterPanic) => void;
}

export class Ingest {
  private readonly options: IngestOptions;
  private readonly metrics: ReceiverMetrics;
  private readonly outlet: IngestOutlet;
  private readonly table: SourceTable<Source>;
  /** Token buckets by limit key (an IPv6 /64 shares one), bounded like the sources. */
  private readonly limits: SourceTable<RateLimit>;
  private totalBytes = 0;
  /** Sources holding a pending panic, a partial line or fragments: the only ones `tick` needs to visit. */
  private readonly unsettled = new Set<string>();
  private readonly marker: PanicMarker;
  private readonly triage: Triage;
  private unflushedPackets = 0;
  private unflushedBytes = 0;
  /** Overloaded (see shedding.ts): process only what may matter; set by the receive thread each tick. */
  shedding = false;

  constructor(options: IngestOptions, metrics: ReceiverMetrics, outlet: IngestOutlet) {
    this.options = options;
    this.metrics = metrics;
    this.outlet = outlet;
    this.marker = new PanicMarker(options.patterns);
    this.triage = new Triage(this.marker);
    this.table = new SourceTable({
      maxSources: options.maxSources,
      idleMs: options.sourceIdleMs,
      create: (_address, nowMs) => this.newSource(nowMs),
      onEvicted: (address, source, nowMs) => {
        this.retire(address, source, nowMs);
      },
    });
    this.limits = new SourceTable({
      maxSources: options.maxSources,
      idleMs: options.sourceIdleMs,
      create: (_key, nowMs) => ({
        lastSeenMs: nowMs,
        bucket: new TokenBucket(options.ratePerSecond, options.rateBurst, nowMs),
      }),
    });
  }

  get sourceCount(): number {
    return this.table.size;
  }

  /** Bytes charged to the byte budget: every source's fixed cost and the text it holds. */
  get bufferedBytes(): number {
    return this.totalBytes;
  }

  datagram(address: string, data: Buffer, nowMs: number): void {
    this.unflushedPackets++;
    this.unflushedBytes += data.length;
    if (!this.options.allowList.allows(address)) {
      this.metrics.drops.inc({ reason: "not_allowed" });
      return;
    }
    if (this.shedding && !this.unsettled.has(address) && !this.triage.mayMatter(data)) {
      this.metrics.drops.inc({ reason: "shed_overload" });
      return;
    }
    const source = this.table.touch(address, nowMs);
    if (!this.limits.touch(limitKey(address), nowMs).bucket.take(nowMs)) {
      if (!this.marker.carries(data)) {
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
    this.enforceByteBudget(nowMs);
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
    for (const [address, source] of this.table.evictIdle(nowMs)) this.retire(address, source, nowMs);
    this.limits.evictIdle(nowMs);
    this.flushCounts();
  }

  /** The per-packet counts, added to the metrics at each tick rather than at each of 100,000 packets a second. */
  private flushCounts(): void {
    this.metrics.packets.inc(this.unflushedPackets);
    this.metrics.bytes.inc(this.unflushedBytes);
    this.unflushedPackets = 0;
    this.unflushedBytes = 0;
    this.metrics.sources.set(this.table.size);
    this.metrics.bufferedBytes.set(this.bufferedBytes);
  }

  /** Completes every pending panic now (shutdown): nothing detected is left behind. */
  drain(nowMs: number): void {
    for (const [address, source] of [...this.table.entries()]) this.retire(address, source, nowMs);
    this.flushCounts();
  }

  private newSource(nowMs: number): Source {
    const notice = (n: DetectorNotice) => {
      (n === "duplicate_panic" ? this.metrics.duplicatePanics : this.metrics.userspacePanics).inc();
    };
    return {
      lastSeenMs: nowMs,
      stream: new NetconsoleStream(this.options.stream),
      detector: new PanicDetector(this.options.patterns, this.options.detector, notice),
      continuity: new StreamContinuity(),
      bytes: 0,
    };
  }

  private feed(address: string, source: Source, records: readonly KernelRecord[], nowMs: number): void {
    for (const record of records) {
      if (record.truncated === true) this.metrics.truncatedLines.inc();
      const selfTest = parseSelfTest(record.text);
      if (selfTest !== undefined) this.outlet.selfTest({ ...selfTest, hostIP: address });
      else this.unavailable(address, record);
      const continuity = source.continuity.observe(record, selfTest, nowMs);
      for (const detection of source.detector.observe(record, nowMs, continuity)) this.report(address, detection);
      if (continuity.kind === "continuous") this.continued(address, source, continuity);
    }
  }

  /** The node agent's report that this node cannot run netconsole (api/selftest.ts): coverage shows why. */
  private unavailable(address: string, record: KernelRecord): void {
    const report = parseUnavailable(record.text);
    if (report === undefined) return;
    this.outlet.selfTest({ node: report.node, bootId: report.bootId, hostIP: address, unavailable: report.reason });
  }

  /** A record continued a node's stream: a panic it started is remembered, life after a panic reported. */
  private continued(address: string, source: Source, continuity: Continuous): void {
    if (source.detector.startedPanic) source.continuity.panicked(continuity.anchor, continuity.position);
    const panic = continuity.afterPanic;
    if (panic === undefined) return;
    this.outlet.streamAfterPanic({
      ...continuity.anchor,
      hostIP: address,
      panicSequence: panic.seq,
      secondsAfterPanic: (continuity.position.tsUsec - panic.tsUsec) / 1e6,
    });
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
    this.totalBytes -= source.bytes;
    source.bytes = 0;
  }

  private track(address: string, source: Source): void {
    const held = source.stream.bufferedBytes;
    if (source.detector.collecting || held > 0) this.unsettled.add(address);
    else if (this.unsettled.size > 0) this.unsettled.delete(address);
    const chars = source.detector.retainedChars + source.continuity.retainedChars;
    const bytes = SOURCE_OVERHEAD_BYTES + held + chars * BYTES_PER_CHAR;
    this.totalBytes += bytes - source.bytes;
    source.bytes = bytes;
  }

  /**
   * Over the byte budget (many sources, long lines): the least recently heard sources are retired — their
   * pending panics reported, their context forgotten — until the rest fits. Counted as memory drops.
   */
  private enforceByteBudget(nowMs: number): void {
    while (this.totalBytes > this.options.maxBufferedBytes && this.table.size > 1) {
      const oldest = this.table.evictOldest();
      if (oldest === undefined) return;
      this.retire(oldest[0], oldest[1], nowMs);
      this.metrics.drops.inc({ reason: "memory" });
    }
  }

  private report(address: string, detection: Detection): void {
    this.metrics.panicsDetected.inc();
    this.outlet.panic({ ...detection, hostIP: address });
  }
}
