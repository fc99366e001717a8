// The reconciler: KernelPanicEvents watched → keyed work queue → reconcile, run by the elected leader only,
// with /metrics and health. It is handed everything it uses (commands/reconciler.ts builds it from the
// settings). Receiver and reconciler never import each other: the custom resource is the hand-off.
import { randomUUID } from "node:crypto";
import type { Server } from "node:http";
import type { KernelPanicEvent } from "../../api/kernelpanicevent.ts";
import { startHttpServer } from "../../http.ts";
import type { Clock } from "../../clock.ts";
import type { AccessMonitor } from "../../kube/access.ts";
import { classifyError } from "../../kube/errors.ts";
import type { WatchHealth } from "../../kube/watch.ts";
import type { Logger } from "../../log.ts";
import { CONDITIONS, REASONS, getCondition } from "../status/conditions.ts";
import type { CascadeTracker } from "../fleet/cascade.ts";
import type { LeaderElector } from "./leader.ts";
import type { ReconcileOutcome, ReconcilerMetrics } from "../metrics.ts";
import { TerminalError, WorkQueue } from "./queue.ts";
import { reconcile, type ReconcileDeps } from "../reconcile.ts";

/** The KernelPanicEvent watch as the reconciler uses it (kube/watch.ts's ListWatch). */
export interface EventWatch {
  start(): Promise<void>;
  stop(): void;
  health(): WatchHealth;
}

export interface EventWatchOptions {
  readonly onObject: (event: KernelPanicEvent) => void;
  readonly onRestart: (error: string, retryInMs: number) => void;
  readonly resyncMs: number;
}

/** Where the KernelPanicEvents come from: the API (kube/reader.ts). */
export interface EventSource {
  watchKernelPanicEvents(options: EventWatchOptions): EventWatch;
}

/** Work the leader runs beside reconciling (coverage checks, the probe baseline): started, later stopped. */
export interface LeaderTask {
  /** Starts the task; the returned function stops it and waits for the run under way. */
  start(): () => Promise<void>;
}

export interface ReconcilerOptions {
  readonly httpAddress: string;
  /** KernelPanicEvents reconciled at once. */
  readonly concurrency: number;
  readonly resyncMs: number;
  readonly reconcileBackoffMs: { readonly initial: number; readonly max: number };
  readonly watchStartRetryMs: number;
  /** Liveness fails when the watch has been down, or one reconcile has run, for longer than this. */
  readonly stallMs: number;
  /** Logged at start. */
  readonly summary: Readonly<Record<string, unknown>>;
}

export interface ReconcilerParts {
  readonly deps: ReconcileDeps & {
    readonly guard: { remember(name: string, atMs: number, nodeName: string): void };
    readonly forgery: { refused(nodeName: string, atMs: number, eventName: string): boolean };
    readonly crashLoop: { panicked(nodeName: string, atMs: number, eventName: string): void };
    readonly cascade: Pick<CascadeTracker, "ran">;
  };
  readonly events: EventSource;
  /** Run while leading: the coverage check, and the probe baseline when the probe is on. */
  readonly tasks: readonly LeaderTask[];
  readonly elector: LeaderElector | undefined;
  readonly access: AccessMonitor;
  readonly metrics: ReconcilerMetrics;
  readonly log: Logger;
  readonly clock: Clock;
  readonly options: ReconcilerOptions;
}

/** What liveness judges of the leader's work: its longest reconcile, when it started, its watch's health. */
export interface WorkState {
  readonly longestRunningMs: number;
  /** When the work started (monotonic). */
  readonly sinceMs: number;
  /** Undefined until the watch first started. */
  readonly watch: WatchHealth | undefined;
}

/** Why the leader's work is wedged, or undefined: a reconcile or a watch stuck for longer than `stallMs`. */
export function stallReason(state: WorkState, nowMs: number, stallMs: number): string | undefined {
  if (state.longestRunningMs > stallMs)
    return `a reconcile has been running for ${Math.round(state.longestRunningMs / 1000)} s`;
  const health = state.watch;
  if (health === undefined)
    return nowMs - state.sinceMs > stallMs ? "the KernelPanicEvent watch never started" : undefined;
  if (health.stopped) return "the KernelPanicEvent watch stopped";
  if (!health.connected && nowMs - health.lastConnectedMs > stallMs)
    return `the KernelPanicEvent watch has been down for ${Math.round((nowMs - health.lastConnectedMs) / 1000)} s`;
  return undefined;
}

/** The leader's work while it runs: what liveness looks at. */
interface Work {
  readonly queue: WorkQueue;
  readonly sinceMs: number;
  watch?: EventWatch;
}

export class Reconciler {
  readonly metrics: ReconcilerMetrics;
  readonly httpPort: number;
  private readonly parts: ReconcilerParts;
  private readonly http: Server;
  /** With leader election: the campaign. Without: the started work, resolving to how to stop it. */
  private running: Promise<void> | Promise<() => Promise<void>> | undefined;
  private work: Work | undefined;
  private stopping = false;

  private constructor(parts: ReconcilerParts, http: { server: Server; port: number }) {
    this.parts = parts;
    this.metrics = parts.metrics;
    this.http = http.server;
    this.httpPort = http.port;
  }

  static async start(parts: ReconcilerParts): Promise<Reconciler> {
    const box: { reconciler?: Reconciler } = {};
    // Ready when its credentials can do the job: a replica waiting for leadership is a healthy standby.
    const http = await startHttpServer(parts.options.httpAddress, {
      metrics: () => {
        parts.metrics.eventWatchConnected.set(box.reconciler?.work?.watch?.health().connected === true ? 1 : 0);
        return Promise.resolve(parts.metrics.registry);
      },
      healthy: () => box.reconciler?.stalled() === undefined,
      ready: () => parts.access.ready,
    });
    const reconciler = new Reconciler(parts, http);
    box.reconciler = reconciler;
    parts.access.start();
    reconciler.running =
      parts.elector === undefined
        ? reconciler.lead()
        : parts.elector.run(
            () => reconciler.lead(),
            (leading) => {
              reconciler.metrics.leader.set(leading ? 1 : 0);
            },
          );
    parts.log.info("Started reconciler", { ...parts.options.summary, httpPort: http.port });
    return reconciler;
  }

  get isLeader(): boolean {
    return this.parts.elector?.isLeader ?? true;
  }

  /** Why the reconciler is wedged (liveness fails), or undefined while it works or stands by. */
  stalled(nowMs = this.parts.clock.monotonicMs()): string | undefined {
    const work = this.work;
    if (work === undefined || this.stopping) return undefined;
    return stallReason(
      {
        longestRunningMs: work.queue.longestRunningMs(nowMs),
        sinceMs: work.sinceMs,
        watch: work.watch?.health(),
      },
      nowMs,
      this.parts.options.stallMs,
    );
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.parts.access.stop();
    if (this.parts.elector !== undefined) await this.parts.elector.stop();
    // Without an elector `running` resolves to the work's stop function (even if start-up is still under way).
    const stopWork = await this.running;
    if (typeof stopWork === "function") await stopWork();
    this.http.closeAllConnections();
    await new Promise<void>((resolve) =>
      this.http.close(() => {
        resolve();
      }),
    );
    this.parts.log.info("Stopped reconciler");
  }

  /** The work of the leader: watch and reconcile until told to stop. */
  private async lead(): Promise<() => Promise<void>> {
    const { options, log } = this.parts;
    const queue = new WorkQueue(
      {
        concurrency: options.concurrency,
        initialBackoffMs: options.reconcileBackoffMs.initial,
        maxBackoffMs: options.reconcileBackoffMs.max,
      },
      async (name, signal) => this.reconcileOnce(name, signal),
      (name, err, retryInMs) => {
        this.metrics.reconcileErrors.inc({ class: classifyError(err).class });
        if (retryInMs !== undefined) log.debug("Retrying reconcile", { name, retryInMs });
      },
      this.parts.clock,
    );
    const work: Work = { queue, sinceMs: this.parts.clock.monotonicMs() };
    this.work = work;
    const watch = this.parts.events.watchKernelPanicEvents({
      resyncMs: options.resyncMs,
      onObject: (event) => {
        this.rememberAdmission(event);
        queue.add(event.metadata.name);
        this.metrics.queueDepth.set(queue.depth);
      },
      onRestart: (error, retryInMs) => {
        this.metrics.watchRestarts.inc();
        log.warn("KernelPanicEvent watch failed; restarting", { error, retryInMs });
      },
    });
    const stopTasks = this.parts.tasks.map((task) => task.start());
    const stopAll = async () => {
      this.work = undefined;
      watch.stop();
      await Promise.all(stopTasks.map(async (stop) => stop()));
      await queue.stop();
    };
    while (!this.stopping) {
      try {
        await watch.start();
        work.watch = watch;
        break;
      } catch (err) {
        log.warn("Could not start watching KernelPanicEvents; retrying", { error: classifyError(err).message, err });
        await this.parts.clock.sleep(options.watchStartRetryMs);
      }
    }
    return stopAll;
  }

  /**
   * One pass over one event, as controller-runtime's reconcileHandler runs it: its logs carry a reconcile ID, its
   * result is counted by outcome, and a request the API server refused as invalid ends it for good (a
   * TerminalError: the same request would be refused again; the next change of the event brings it back).
   */
  private async reconcileOnce(name: string, signal: AbortSignal): Promise<{ requeueAfterMs?: number }> {
    const log = this.parts.deps.log.child({ reconcileID: randomUUID(), name });
    const end = this.metrics.reconcileDuration.startTimer();
    let outcome: ReconcileOutcome = "error";
    try {
      const result = await reconcile(name, { ...this.parts.deps, log }, signal);
      outcome = result.requeueAfterMs === undefined ? "success" : "requeue_after";
      return result;
    } catch (err) {
      const error = classifyError(err);
      outcome = signal.aborted ? "cancelled" : error.class === "Invalid" ? "terminal_error" : "error";
      log.warn(outcome === "terminal_error" ? "Reconcile failed; not retrying" : "Reconcile failed", {
        name,
        error: error.message,
        err,
        outcome,
      });
      throw outcome === "terminal_error" ? new TerminalError(error.message, { cause: err }) : err;
    } finally {
      this.metrics.reconciles.inc({ result: outcome });
      end();
    }
  }

  /**
   * Admissions and forgery suspicions survive restarts and leader changes: they are read back from the
   * events' status.
   */
  private rememberAdmission(event: KernelPanicEvent): void {
    const { deps } = this.parts;
    // Written only once the node was known dead (past the lease check): what ran on a node that panicked.
    const { nodeName, workloads } = event.status ?? {};
    if (nodeName !== undefined && workloads !== undefined)
      deps.cascade.ran({ nodeName, event: event.metadata.name, atMs: Date.parse(event.spec.detectedTime) }, workloads);
    const remediated = getCondition(event.status, CONDITIONS.remediated);
    if (remediated === undefined) return;
    const panicNode = nodeName ?? "";
    const since = Date.parse(remediated.lastTransitionTime);
    if (remediated.reason === REASONS.nodeAlive && nodeName !== undefined)
      deps.forgery.refused(nodeName, since, event.metadata.name);
    // A recovered panic counts towards its node's crash loop as a remediated one does (remediation/recovered.ts).
    if (COUNTED_PANICS.has(remediated.reason))
      deps.crashLoop.panicked(panicNode, Date.parse(event.spec.detectedTime), event.metadata.name);
    if (remediated.reason === REASONS.inProgress || remediated.reason === REASONS.remediated)
      deps.guard.remember(event.metadata.name, since, panicNode);
  }
}

/** The Remediated reasons of a panic that counts towards its node's crash loop. */
const COUNTED_PANICS = new Set<string>([REASONS.inProgress, REASONS.remediated, REASONS.recovered]);
