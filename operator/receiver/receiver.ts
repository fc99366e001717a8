// The receiver: UDP sockets → Ingest (parse, detect) → Recorder (KernelPanicEvents), plus /metrics and health.
// On stop it stops listening first, completes the panics it is still collecting, and gives pending writes a
// grace period before exiting.
import type { Server } from "node:http";
import type { Logger } from "../log.ts";
import { startHttpServer } from "../http.ts";
import type { AccessMonitor } from "../kube/access.ts";
import type { CoverageRecorder } from "./coverage.ts";
import type { Ingest } from "./ingest.ts";
import type { PanicGate } from "./gate.ts";
import type { ReceiverMetrics } from "./metrics.ts";
import type { Recorder } from "./recorder.ts";
import { listenUdp, type UdpListener } from "./udp.ts";

/** How often quiet sources are checked: well under the quiet period, so context completes on time. */
export const TICK_MS = 20;
/** Liveness fails when the clock has not ticked for this long (a loop blocked for seconds is wedged). */
const TICK_STALL_MS = 10_000;

export interface ReceiverOptions {
  readonly listen: readonly string[];
  readonly socketReceiveBufferBytes: number;
  readonly httpAddress: string;
  /** On stop, pending writes get this long. */
  readonly shutdownGraceMs: number;
}

/** The receiver's parts, built by its composition root (commands/receiver.ts) and handed over whole. */
export interface ReceiverParts {
  readonly metrics: ReceiverMetrics;
  readonly ingest: Ingest;
  readonly gate: PanicGate;
  readonly recorder: Recorder;
  readonly coverage: CoverageRecorder;
  readonly access: Pick<AccessMonitor, "ready" | "start" | "stop">;
  readonly options: ReceiverOptions;
  readonly log: Logger;
}

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
  private lastTickMs = Date.now();
  private readonly access: Pick<AccessMonitor, "ready" | "start" | "stop">;
  private readonly shutdownGraceMs: number;
  private readonly log: Logger;
  private stopping = false;

  private constructor(parts: ReceiverParts, udp: UdpListener, http: { server: Server; port: number }) {
    this.metrics = parts.metrics;
    this.ingest = parts.ingest;
    this.gate = parts.gate;
    this.recorder = parts.recorder;
    this.coverage = parts.coverage;
    this.access = parts.access;
    this.udp = udp;
    this.udpPorts = udp.ports;
    this.http = http.server;
    this.httpPort = http.port;
    this.shutdownGraceMs = parts.options.shutdownGraceMs;
    this.log = parts.log;
    this.ticker = setInterval(() => {
      const now = Date.now();
      this.lastTickMs = now;
      this.ingest.tick(now);
      this.gate.tick(now);
      this.metrics.deferredPanics.set(this.gate.deferred);
    }, TICK_MS);
  }

  /** Listens on the sockets and the HTTP endpoint, and starts the clock of the parts it is handed. */
  static async start(parts: ReceiverParts): Promise<Receiver> {
    const { options, metrics, ingest, log } = parts;
    const udp = await listenUdp(
      options.listen,
      options.socketReceiveBufferBytes,
      (address, data) => {
        ingest.datagram(address, data, Date.now());
      },
      log,
    );
    const started: { receiver?: Receiver } = {};
    const http = await startHttpServer(options.httpAddress, {
      registry: metrics.registry,
      healthy: () => started.receiver?.stalled() === undefined,
      ready: () => started.receiver !== undefined && !started.receiver.stopping && parts.access.ready,
    }).catch(async (err: unknown) => {
      await udp.close();
      throw err;
    });
    parts.gate.tick(Date.now()); // the first node-address list starts now
    parts.access.start();
    const receiver = new Receiver(parts, udp, http);
    started.receiver = receiver;
    log.info("Started receiver", {
      listen: options.listen,
      udpPorts: udp.ports,
      http: options.httpAddress,
      httpPort: http.port,
    });
    return receiver;
  }

  /**
   * Why the receiver is wedged (liveness fails), or undefined: a socket that failed or closed, or a clock that
   * stopped ticking (quiet sources would never complete their panics).
   */
  stalled(nowMs = Date.now()): string | undefined {
    if (this.stopping) return undefined;
    const broken = this.udp.broken();
    if (broken !== undefined) return broken;
    const sinceTick = nowMs - this.lastTickMs;
    return sinceTick > TICK_STALL_MS ? `the receiver's clock has not ticked for ${sinceTick} ms` : undefined;
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
    this.access.stop();
    const unwritten = await this.recorder.drain(this.shutdownGraceMs);
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
