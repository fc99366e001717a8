// The receiver: UDP sockets → Ingest (parse, detect) → Recorder (KernelPanicEvents), plus /metrics and health.
// On stop it stops listening first, completes the panics it is still collecting, and gives pending writes a
// grace period before exiting.
import type { Server } from "node:http";
import type { Logger } from "../log.ts";
import { startHttpServer } from "../http.ts";
import type { ClusterWriter } from "../kube/writer.ts";
import { SourceAllowList } from "./allowlist.ts";
import type { DetectionPatterns } from "./detector/patterns.ts";
import { toKernelPanicEvent } from "./event.ts";
import { CoverageRecorder, type CoverageCluster } from "./coverage.ts";
import { Ingest } from "./ingest.ts";
import { ReceiverMetrics } from "./metrics.ts";
import { Recorder } from "./recorder.ts";
import { listenUdp, type UdpListener } from "./udp.ts";
import type { SettingValues } from "../config/settings.ts";
import type { receiverSettings } from "../config/receiver.ts";

export type ReceiverConfig = SettingValues<typeof receiverSettings>;

/** How often quiet sources are checked: well under the quiet period, so context completes on time. */
const TICK_MS = 20;

export class Receiver {
  readonly metrics: ReceiverMetrics;
  readonly udpPorts: readonly number[];
  readonly httpPort: number;
  private readonly ingest: Ingest;
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
    recorder: Recorder;
    coverage: CoverageRecorder;
    udp: UdpListener;
    http: { server: Server; port: number };
    config: ReceiverConfig;
    log: Logger;
  }) {
    this.metrics = init.metrics;
    this.ingest = init.ingest;
    this.recorder = init.recorder;
    this.coverage = init.coverage;
    this.udp = init.udp;
    this.udpPorts = init.udp.ports;
    this.http = init.http.server;
    this.httpPort = init.http.port;
    this.config = init.config;
    this.log = init.log;
    this.ticker = setInterval(() => {
      this.ingest.tick(Date.now());
    }, TICK_MS);
  }

  static async start(
    config: ReceiverConfig,
    patterns: DetectionPatterns,
    cluster: { writer: ClusterWriter; coverage: CoverageCluster },
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
      { maxPending: config.maxPendingWrites, concurrency: 4, initialBackoffMs: 100, maxBackoffMs: 10_000 },
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
        recorder.enqueue(toKernelPanicEvent(report, config.receivedBy), report.detectedAtMs);
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
    const receiver = new Receiver({ metrics, ingest, recorder, coverage, udp, http, config, log });
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
