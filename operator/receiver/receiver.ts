// The receiver: UDP sockets → Ingest (parse, detect) → Recorder (KernelPanicEvents), plus /metrics and health.
// On stop it stops listening first, completes the panics it is still collecting, and gives pending writes a
// grace period before exiting.
import type { Server } from "node:http";
import type { Logger } from "../log.ts";
import { startHttpServer } from "../http.ts";
import type { ClusterWriter } from "../kube/writer.ts";
import { SourceAllowList } from "../net/addresses.ts";
import type { DetectionPatterns } from "./detector/patterns.ts";
import { toKernelPanicEvent } from "./event.ts";
import { CoverageRecorder, type CoverageCluster } from "./coverage.ts";
import { Ingest } from "./ingest.ts";
import { PanicGate } from "./gate.ts";
import { ReceiverMetrics } from "./metrics.ts";
import { Recorder } from "./recorder.ts";
import { listenUdp, type UdpListener } from "./udp.ts";
import type { SettingValues } from "../config/settings.ts";
import type { receiverSettings } from "../config/receiver.ts";

export type ReceiverConfig = SettingValues<typeof receiverSettings>;

/** How often quiet sources are checked: well under the quiet period, so context completes on time. */
const TICK_MS = 20;
/** An urgent node-address refresh (a panic from an unknown address) at most this often. */
const MIN_NODE_REFRESH_MS = 2000;
/** Panics from unknown addresses held at once while the node addresses are listed again. */
const MAX_UNVERIFIED_PANICS = 256;
/** Writes of KernelPanicEvents at once. */
const WRITE_CONCURRENCY = 4;

export class Receiver {
  readonly metrics: ReceiverMetrics;
  readonly udpPorts: readonly number[];
  readonly httpPort: number;
  private readonly ingest: Ingest;
  private readonly gate: PanicGate;
  private readonly recorder: Recorder;
  private readonly coverage: CoverageRecorder;
  private readonly udp: UdpListener;
  private readonly http: Server;
  private readonly ticker: NodeJS.Timeout;
  private readonly config: ReceiverConfig;
  private readonly log: Logger;
  private stopping = false;

  private constructor(init: {
    metrics: ReceiverMetrics;
    ingest: Ingest;
    gate: PanicGate;
    recorder: Recorder;
    coverage: CoverageRecorder;
    udp: UdpListener;
    http: { server: Server; port: number };
    config: ReceiverConfig;
    log: Logger;
  }) {
    this.metrics = init.metrics;
    this.ingest = init.ingest;
    this.gate = init.gate;
    this.recorder = init.recorder;
    this.coverage = init.coverage;
    this.udp = init.udp;
    this.udpPorts = init.udp.ports;
    this.http = init.http.server;
    this.httpPort = init.http.port;
    this.config = init.config;
    this.log = init.log;
    this.ticker = setInterval(() => {
      const now = Date.now();
      this.ingest.tick(now);
      this.gate.tick(now);
      this.metrics.deferredPanics.set(this.gate.deferred);
    }, TICK_MS);
  }

  static async start(
    config: ReceiverConfig,
    patterns: DetectionPatterns,
    cluster: { writer: ClusterWriter; coverage: CoverageCluster; nodeAddresses: () => Promise<Set<string>> },
    log: Logger,
  ): Promise<Receiver> {
    const { writer } = cluster;
    const metrics = new ReceiverMetrics();
    const coverage = new CoverageRecorder(
      cluster.coverage,
      { intervalMs: config.coverageIntervalSeconds * 1000, maxNodes: config.maxSources, maxInFlight: 16 },
      metrics,
      log,
    );
    const recorder = new Recorder(
      writer,
      {
        maxPending: config.maxPendingWrites,
        concurrency: WRITE_CONCURRENCY,
        initialBackoffMs: 100,
        maxBackoffMs: 10_000,
      },
      metrics,
      log,
    );
    const gate = new PanicGate(
      {
        nodeSourcesOnly: config.nodeSourcesOnly,
        refreshMs: config.nodeAddressRefreshSeconds * 1000,
        minRefreshMs: MIN_NODE_REFRESH_MS,
        maxUnverified: MAX_UNVERIFIED_PANICS,
        budget: {
          perWindow: config.sourceEventBudget,
          windowMs: config.sourceEventWindowSeconds * 1000,
          maxSources: config.maxSources,
        },
      },
      cluster.nodeAddresses,
      (report) => {
        recorder.enqueue(toKernelPanicEvent(report, config.receivedBy), report.detectedAtMs);
      },
      metrics,
      log,
    );
    const ingest = new Ingest(
      {
        patterns,
        detector: {
          contextLines: config.contextLines,
          quietMs: config.contextQuietMs,
          deadlineMs: config.contextDeadlineMs,
          duplicateWindowMs: config.duplicateWindowSeconds * 1000,
        },
        stream: {
          maxLineLength: config.maxLineLength,
          maxRecordBytes: config.maxFragmentedRecordBytes,
          maxInFlight: 8,
          timeoutMs: config.fragmentTimeoutMs,
        },
        maxSources: config.maxSources,
        maxBufferedBytes: config.maxBufferedBytes,
        sourceIdleMs: config.sourceIdleSeconds * 1000,
        ratePerSecond: config.sourceRatePerSecond,
        rateBurst: config.sourceRateBurst,
        allowList: new SourceAllowList(config.allowedSourceCidrs),
      },
      metrics,
      (report) => {
        log.warn("Detected kernel panic", {
          hostIP: report.hostIP,
          reason: report.reason,
          cause: report.cause,
          sequence: report.sequence,
        });
        gate.offer(report, Date.now());
      },
      (heard) => {
        coverage.heard(heard, Date.now());
      },
    );
    const udp = await listenUdp(
      config.listen,
      config.socketReceiveBufferBytes,
      (address, data) => {
        ingest.datagram(address, data, Date.now());
      },
      log,
    );
    const started: { receiver?: Receiver } = {};
    const http = await startHttpServer(config.httpAddress, {
      registry: metrics.registry,
      healthy: () => true,
      ready: () => started.receiver !== undefined && !started.receiver.stopping,
    }).catch(async (err: unknown) => {
      await udp.close();
      throw err;
    });
    gate.tick(Date.now()); // the first node-address list starts now
    const receiver = new Receiver({ metrics, ingest, gate, recorder, coverage, udp, http, config, log });
    started.receiver = receiver;
    log.info("Started receiver", {
      listen: config.listen,
      udpPorts: udp.ports,
      http: config.httpAddress,
      httpPort: http.port,
    });
    return receiver;
  }

  /** Stops listening, records what is still being collected, and waits up to the grace period for writes. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.udp.close();
    clearInterval(this.ticker);
    this.ingest.drain(Date.now());
    await this.gate.settled();
    this.gate.drain();
    const unwritten = await this.recorder.drain(this.config.shutdownGraceSeconds * 1000);
    await this.coverage.drain();
    this.http.closeAllConnections();
    await new Promise<void>((resolve) =>
      this.http.close(() => {
        resolve();
      }),
    );
    this.log.info("Stopped receiver", { unwrittenEvents: unwritten });
  }
}
