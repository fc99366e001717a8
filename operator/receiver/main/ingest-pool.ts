// The receive threads (ingest-worker.ts), seen from the main thread: started one after the other on the same
// port (the first picks it when the configured port is 0), their panics and self-tests handed to the main
// thread's gate and coverage, their metrics merged into one /metrics, their health watched by heartbeat.
import { Worker } from "node:worker_threads";
import { AggregatorRegistry, type Registry } from "prom-client";
import type { Clock } from "../../clock.ts";
import type { Logger } from "../../log.ts";
import type {
  FromWorker,
  PanicReport,
  PoolInit,
  ReceivePath,
  SelfTestHeard,
  StreamAfterPanic,
  ToWorker,
  WorkerInit,
} from "../ingest-messages.ts";

/** A thread's sockets bound: their addresses and ports, and how it reads them. */
type Listening = Extract<FromWorker, { type: "listening" }>;

/**
 * A receive thread's V8 heap. Without limits each thread's isolate sizes its heap as a whole process would
 * (and --max-old-space-size applies to each): two threads held 450 MiB where their state was 48 MiB. A young
 * generation of a few MiB is collected often and cheaply; the old generation is capped near what the thread's
 * share of maxBufferedBytes needs, so V8 collects instead of growing.
 */
export interface ThreadHeap {
  readonly maxOldGenerationSizeMb: number;
  readonly maxYoungGenerationSizeMb: number;
}

/** Where the receive threads' findings go in the main thread, each to the stage that owns it. */
export interface IngestOutputs {
  /** Detected panics: the gate (gate.ts). */
  readonly panics: { offer(report: PanicReport, nowMs: number): void };
  /** Self-test lines heard: netconsole coverage (coverage-recorder.ts). */
  readonly selfTests: { heard(heard: SelfTestHeard, nowMs: number): void };
  /** A kernel heard after its panic: after-panic.ts. */
  readonly afterPanic: { heard(heard: StreamAfterPanic): void };
}

/** Starts one receive thread; Node's Worker running ingest-worker.ts unless a test holds on to its own. */
export type SpawnThread = (workerData: WorkerInit, heap: ThreadHeap) => Worker;

export const spawnIngestWorker: SpawnThread = (workerData, heap) =>
  new Worker(WORKER_MODULE, { workerData, resourceLimits: heap });

export interface PoolDeps {
  readonly log: Logger;
  readonly clock: Clock;
  readonly spawn?: SpawnThread;
}

/**
 * The receive thread's module: beside this one in the sources, and beside the bundle's entry point in the
 * production build (hack/bundle.ts writes dist/ingest-worker.js next to dist/lastgasp.js).
 */
const WORKER_MODULE = new URL(
  import.meta.url.endsWith(".ts") ? "../thread/ingest-worker.ts" : "./ingest-worker.js",
  import.meta.url,
);

/** A thread whose heartbeat is this late is wedged (a blocked loop hears nothing). */
const HEARTBEAT_STALE_MS = 10_000;
/** A thread that has not answered a metrics request within this is left out of that scrape. */
const METRICS_TIMEOUT_MS = 2000;

class ReceiveThread {
  readonly worker: Worker;
  /** When the thread last said it is alive, on the main thread's monotonic clock. */
  lastHeartbeatMs: number;
  problem: string | undefined;
  private nextId = 0;
  private readonly waiting = new Map<number, (json: object[]) => void>();
  private stopped: (() => void) | undefined;
  private exited = false;

  private readonly clock: Clock;
  private readonly log: Logger;

  constructor(init: PoolInit, heap: ThreadHeap, outputs: IngestOutputs, deps: PoolDeps, index: number) {
    const { log, clock } = deps;
    this.clock = clock;
    this.log = log;
    this.lastHeartbeatMs = clock.monotonicMs();
    this.worker = (deps.spawn ?? spawnIngestWorker)({ ...init, index }, heap);
    this.worker.on("error", (err: Error) => {
      this.problem = `receive thread ${index} failed: ${err.message}`;
      log.error("Receive thread failed", { thread: index, err });
    });
    this.worker.on("exit", (code) => {
      this.exited = true;
      this.problem ??= this.stopped === undefined ? `receive thread ${index} exited (code ${code})` : undefined;
      this.stopped?.();
    });
    this.worker.on("message", (message: FromWorker) => {
      this.receive(message, outputs);
    });
  }

  /** Resolves with the sockets bound, or rejects with why they could not be. */
  async listening(): Promise<Listening> {
    return new Promise((resolve, reject) => {
      const onMessage = (message: FromWorker) => {
        if (message.type === "listening") resolve(message);
        else if (message.type === "failed") reject(new Error(message.message));
        else return;
        this.worker.off("message", onMessage);
      };
      this.worker.on("message", onMessage);
      this.worker.once("error", reject);
    });
  }

  async metrics(): Promise<object[]> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const cancel = this.clock.setTimeout(() => {
        this.waiting.delete(id);
        resolve([]);
      }, METRICS_TIMEOUT_MS);
      this.waiting.set(id, (json) => {
        cancel();
        resolve(json);
      });
      this.send({ type: "metrics", id });
    });
  }

  /** Closes the thread's sockets and waits until it has handed over every panic it held, and exited. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => {
      this.stopped = resolve;
    });
    this.send({ type: "stop" });
    await exited;
  }

  private send(message: ToWorker): void {
    this.worker.postMessage(message);
  }

  private receive(message: FromWorker, outputs: IngestOutputs): void {
    switch (message.type) {
      case "panic": {
        const { report } = message;
        this.log.warn("Detected kernel panic", {
          hostIP: report.hostIP,
          reason: report.reason,
          cause: report.cause,
          sequence: report.sequence,
        });
        outputs.panics.offer(report, this.clock.nowMs());
        return;
      }
      case "selfTest":
        outputs.selfTests.heard(message.heard, this.clock.nowMs());
        return;
      case "streamAfterPanic":
        outputs.afterPanic.heard(message.heard);
        return;
      case "heartbeat":
        this.lastHeartbeatMs = this.clock.monotonicMs();
        this.problem ??= message.broken;
        return;
      case "metrics":
        this.waiting.get(message.id)?.(message.json);
        this.waiting.delete(message.id);
        return;
      case "stopped": // after every panic it held: messages arrive in order
        this.stopped?.();
        return;
      default:
        return;
    }
  }
}

export class IngestPool {
  readonly ports: readonly number[];
  private readonly threads: ReceiveThread[];
  private readonly clock: Clock;
  /** How the threads read their sockets (every thread loads the same build, so the first speaks for all). */
  readonly receivePath: ReceivePath;
  /** Why the batched path could not be used, when it could not. */
  readonly fallbackReason: string | undefined;

  private constructor(threads: ReceiveThread[], bound: Listening, clock: Clock) {
    this.threads = threads;
    this.ports = bound.ports;
    this.receivePath = bound.path;
    this.fallbackReason = bound.fallbackReason;
    this.clock = clock;
  }

  /** Starts `count` receive threads; rejects (with every thread stopped) when the first cannot listen. */
  static async start(
    init: PoolInit,
    count: number,
    heap: ThreadHeap,
    outputs: IngestOutputs,
    deps: PoolDeps,
  ): Promise<IngestPool> {
    const threads: ReceiveThread[] = [];
    try {
      const first = new ReceiveThread(init, heap, outputs, deps, 0);
      threads.push(first);
      // The others join the first's sockets: same addresses, with the ports it was given.
      const bound = await first.listening();
      for (let i = 1; i < count; i++) {
        const thread = new ReceiveThread({ ...init, listen: bound.addresses }, heap, outputs, deps, i);
        threads.push(thread);
        await thread.listening();
      }
      return new IngestPool(threads, bound, deps.clock);
    } catch (err) {
      await Promise.all(threads.map(async (t) => t.worker.terminate()));
      throw err;
    }
  }

  get size(): number {
    return this.threads.length;
  }

  /** Why a receive thread is not working (failed, exited, socket broken, heartbeat stale), or undefined. */
  broken(nowMs = this.clock.monotonicMs()): string | undefined {
    for (const [i, thread] of this.threads.entries()) {
      if (thread.problem !== undefined) return thread.problem;
      const late = nowMs - thread.lastHeartbeatMs;
      if (late > HEARTBEAT_STALE_MS) return `receive thread ${i} has not been heard from for ${late} ms`;
    }
    return undefined;
  }

  /** The main thread's registry merged with every thread's: counters and gauges summed. */
  async metrics(main: Registry): Promise<Registry> {
    const all = await Promise.all([main.getMetricsAsJSON(), ...this.threads.map(async (t) => t.metrics())]);
    return AggregatorRegistry.aggregate(all);
  }

  /** Stops every thread; each first completes the panics it still holds (they reach the handlers). */
  async stop(): Promise<void> {
    await Promise.all(this.threads.map(async (t) => t.stop()));
  }
}
