// The receiver: receive threads (each: UDP socket → Ingest: parse, detect) → PanicGate → Recorder
// (KernelPanicEvents), plus /metrics (every thread's merged) and health.
// On stop it stops listening first, completes the panics it is still collecting, and gives pending writes a
// grace period; what is still unwritten then goes to the spool (spool.ts), for the next receiver to record.
import type { Server } from "node:http";
import type { Registry } from "prom-client";
import type { Cancel, Clock } from "../../clock.ts";
import type { Logger } from "../../log.ts";
import { startHttpServer } from "../../http.ts";
import type { AccessMonitor } from "../../kube/access.ts";
import type { AfterPanicRecorder } from "./after-panic.ts";
import type { CoverageRecorder } from "./coverage-recorder.ts";
import type { IngestPool } from "./ingest-pool.ts";
import type { PanicGate } from "./gate.ts";
import type { ReceiverMetrics } from "../metrics.ts";
import type { Recorder } from "./recorder.ts";
import type { Spool } from "./spool.ts";

/** How often quiet sources are checked: well under the quiet period, so context completes on time. */
export const TICK_MS = 20;
/** Liveness fails when the clock has not ticked for this long (a loop blocked for seconds is wedged). */
const TICK_STALL_MS = 10_000;

export interface ReceiverOptions {
  /** The listen addresses, for the start-up log. */
  readonly listen: readonly string[];
  readonly httpAddress: string;
  /** On stop, pending writes get this long. */
  readonly shutdownGraceMs: number;
}

/** The receiver's parts, built by its composition root (commands/receiver.ts) and handed over whole. */
export interface ReceiverParts {
  readonly metrics: ReceiverMetrics;
  /** Listening already: its panics, self-tests and kernels heard after a panic go to `gate`, `coverage`, `afterPanic`. */
  readonly pool: IngestPool;
  readonly gate: PanicGate;
  /** The Node watch behind the gate's addresses (node-addresses.ts); undefined when any source may panic. */
  readonly nodeAddresses: { start(): () => void } | undefined;
  readonly recorder: Recorder;
  /** Where unwritten events go at shutdown; undefined when no spool directory is set (they are only logged). */
  readonly spool: Spool | undefined;
  readonly coverage: CoverageRecorder;
  readonly afterPanic: AfterPanicRecorder;
  readonly access: Pick<AccessMonitor, "ready" | "start" | "stop">;
  readonly options: ReceiverOptions;
  readonly log: Logger;
  readonly clock: Clock;
}

export class Receiver {
  /** The main thread's metrics (gate, writes, coverage); allMetrics() adds the receive threads'. */
  readonly metrics: ReceiverMetrics;
  readonly udpPorts: readonly number[];
  readonly httpPort: number;
  private readonly pool: IngestPool;
  private readonly gate: PanicGate;
  private readonly recorder: Recorder;
  private readonly spool: Spool | undefined;
  private readonly coverage: CoverageRecorder;
  private readonly afterPanic: AfterPanicRecorder;
  private readonly http: Server;
  private readonly stopTicking: Cancel;
  private readonly stopNodeWatch: (() => void) | undefined;
  private readonly clock: Clock;
  /** When the main thread's ticker last ran (monotonic). */
  private lastTickMs: number;
  private readonly access: Pick<AccessMonitor, "ready" | "start" | "stop">;
  private readonly shutdownGraceMs: number;
  private readonly log: Logger;
  private stopping = false;

  private constructor(
    parts: ReceiverParts,
    http: { server: Server; port: number },
    stopNodeWatch: (() => void) | undefined,
  ) {
    this.metrics = parts.metrics;
    this.stopNodeWatch = stopNodeWatch;
    this.pool = parts.pool;
    this.gate = parts.gate;
    this.recorder = parts.recorder;
    this.spool = parts.spool;
    this.coverage = parts.coverage;
    this.afterPanic = parts.afterPanic;
    this.access = parts.access;
    this.udpPorts = parts.pool.ports;
    this.http = http.server;
    this.httpPort = http.port;
    this.shutdownGraceMs = parts.options.shutdownGraceMs;
    this.log = parts.log;
    this.clock = parts.clock;
    this.lastTickMs = parts.clock.monotonicMs();
    this.stopTicking = parts.clock.setInterval(() => {
      this.lastTickMs = this.clock.monotonicMs();
      this.gate.tick(this.clock.nowMs());
      this.metrics.deferredPanics.set(this.gate.deferred);
    }, TICK_MS);
  }

  /** Serves the HTTP endpoint and starts the clock of the parts it is handed (the pool already listens). */
  static async start(parts: ReceiverParts): Promise<Receiver> {
    const { options, metrics, pool, log } = parts;
    const started: { receiver?: Receiver } = {};
    const http = await startHttpServer(options.httpAddress, {
      metrics: async () => pool.metrics(metrics.registry),
      healthy: () => started.receiver?.stalled() === undefined,
      ready: () => started.receiver !== undefined && !started.receiver.stopping && parts.access.ready,
    }).catch(async (err: unknown) => {
      await pool.stop();
      throw err;
    });
    const stopNodeWatch = parts.nodeAddresses?.start();
    parts.gate.tick(parts.clock.nowMs()); // the first node-address list starts now (until the watch is open)
    parts.access.start();
    const receiver = new Receiver(parts, http, stopNodeWatch);
    started.receiver = receiver;
    log.info("Started receiver", {
      listen: options.listen,
      udpPorts: pool.ports,
      receiveThreads: pool.size,
      receivePath: pool.receivePath,
      http: options.httpAddress,
      httpPort: http.port,
    });
    if (pool.fallbackReason !== undefined)
      log.warn("Receiving with Node's dgram: the batched-receive addon could not be loaded", {
        reason: pool.fallbackReason,
      });
    return receiver;
  }

  /** The metrics as /metrics serves them: this thread's (writes, gate) merged with every receive thread's. */
  async allMetrics(): Promise<Registry> {
    return this.pool.metrics(this.metrics.registry);
  }

  /**
   * Why the receiver is wedged (liveness fails), or undefined: a receive thread that failed or went silent (or
   * its socket), or a main-thread clock that stopped ticking (panics would wait at the gate for ever).
   */
  stalled(nowMs = this.clock.monotonicMs()): string | undefined {
    if (this.stopping) return undefined;
    const broken = this.pool.broken(nowMs);
    if (broken !== undefined) return broken;
    const sinceTick = nowMs - this.lastTickMs;
    return sinceTick > TICK_STALL_MS ? `the receiver's clock has not ticked for ${sinceTick} ms` : undefined;
  }

  /** Stops listening, records what is still being collected, and waits up to the grace period for writes. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info("Stopping receiver: completing what it collects, then writing what is pending");
    await this.pool.stop(); // each thread completes the panics it was collecting
    this.stopTicking();
    await this.gate.settled();
    this.gate.drain();
    this.stopNodeWatch?.();
    this.access.stop();
    const unwritten = await this.recorder.drain(this.shutdownGraceMs);
    const spooled = (await this.spool?.save(unwritten)) ?? 0;
    await this.coverage.drain();
    await this.afterPanic.drain();
    this.http.closeAllConnections();
    await new Promise<void>((resolve) =>
      this.http.close(() => {
        resolve();
      }),
    );
    this.log.info("Stopped receiver", { unwrittenEvents: unwritten.length, spooled });
  }
}
