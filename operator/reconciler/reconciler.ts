// The reconciler: KernelPanicEvents watched → keyed work queue → reconcile, run by the elected leader only,
// with /metrics and health. Receiver and reconciler never import each other: the custom resource is the hand-off.
import type { KubeConfig } from "@kubernetes/client-node";
import type { Server } from "node:http";
import type { KernelPanicEvent } from "../api/kernelpanicevent.ts";
import type { reconcilerSettings } from "../config/reconciler.ts";
import type { SettingValues } from "../config/settings.ts";
import { startHttpServer } from "../http.ts";
import { ApiCaller } from "../kube/caller.ts";
import { classifyError } from "../kube/errors.ts";
import { ClusterReader } from "../kube/reader.ts";
import { ClusterWriter } from "../kube/writer.ts";
import type { Logger } from "../log.ts";
import { CONDITIONS, REASONS, getCondition } from "./conditions.ts";
import { LeaderElector } from "./leader.ts";
import { CoverageMonitor } from "./coverage.ts";
import { ReconcilerMetrics } from "./metrics.ts";
import { WorkQueue } from "./queue.ts";
import { reconcile, type ReconcileDeps } from "./reconcile.ts";
import { StormGuard } from "./stormguard.ts";
import { ForgeryGuard } from "./forgery.ts";
import { LivenessWatch } from "./liveness.ts";
import { watchKernelPanicEvents, type EventWatch } from "./watch.ts";

export type ReconcilerConfig = SettingValues<typeof reconcilerSettings>;

/** Nodes the forgery guard remembers at most: the scale envelope's 5,000 nodes, twice. */
const FORGERY_MAX_NODES = 10_000;

export class Reconciler {
  readonly metrics: ReconcilerMetrics;
  readonly httpPort: number;
  private readonly kc: KubeConfig;
  private readonly config: ReconcilerConfig;
  private readonly log: Logger;
  private readonly deps: ReconcileDeps;
  private readonly elector: LeaderElector | undefined;
  private readonly http: Server;
  /** With leader election: the campaign. Without: the started work, resolving to how to stop it. */
  private running: Promise<void> | Promise<() => Promise<void>> | undefined;
  private stopping = false;

  private constructor(
    kc: KubeConfig,
    config: ReconcilerConfig,
    log: Logger,
    http: { server: Server; port: number },
    metrics: ReconcilerMetrics,
  ) {
    this.metrics = metrics;
    this.kc = kc;
    this.config = config;
    this.log = log;
    this.http = http.server;
    this.httpPort = http.port;
    const caller = new ApiCaller({
      qps: config.qps,
      burst: config.burst,
      requestTimeoutMs: 10_000,
      throttleRetries: 5,
      onResponse: (outcome) => {
        this.metrics.apiRequests.inc({ outcome });
      },
    });
    this.deps = {
      reader: new ClusterReader(kc, caller),
      writer: new ClusterWriter(kc, caller, { dryRun: config.dryRun, component: "lastgasp-reconciler" }),
      guard: new StormGuard({
        maxNodes: config.stormMaxNodes,
        maxPercent: config.stormMaxPercent,
        windowMs: config.stormWindowSeconds * 1000,
      }),
      liveness: new LivenessWatch(config.leaseMarginSeconds * 1000),
      forgery: new ForgeryGuard({
        threshold: config.forgeryThreshold,
        windowMs: config.forgeryWindowSeconds * 1000,
        holdMs: config.forgeryHoldSeconds * 1000,
        maxNodes: FORGERY_MAX_NODES,
      }),
      metrics: this.metrics,
      log,
      now: () => new Date(),
      options: {
        nodeAction: config.nodeAction,
        addressTypes: config.nodeAddressTypes,
        remediateControlPlane: config.remediateControlPlane,
        leaseCheck: config.leaseCheck,
        eventTtlMs: config.eventTtlSeconds * 1000,
        refusedEventTtlMs: config.refusedEventTtlSeconds * 1000,
        podConcurrency: config.podConcurrency,
      },
    };
    this.elector = config.leaderElect
      ? new LeaderElector(
          kc,
          caller,
          {
            namespace: config.leaderElectionNamespace,
            name: config.leaderElectionId,
            identity: config.identity,
            leaseDurationMs: 15_000,
            renewDeadlineMs: 10_000,
            retryPeriodMs: 2_000,
          },
          log,
        )
      : undefined;
  }

  static async start(kc: KubeConfig, config: ReconcilerConfig, log: Logger): Promise<Reconciler> {
    const metrics = new ReconcilerMetrics();
    // Ready as soon as it runs: a replica waiting for leadership is a healthy standby.
    const http = await startHttpServer(config.httpAddress, {
      registry: metrics.registry,
      healthy: () => true,
      ready: () => true,
    });
    const reconciler = new Reconciler(kc, config, log, http, metrics);
    reconciler.running =
      reconciler.elector === undefined
        ? reconciler.lead()
        : reconciler.elector.run(
            () => reconciler.lead(),
            (leading) => {
              reconciler.metrics.leader.set(leading ? 1 : 0);
            },
          );
    log.info("Started reconciler", {
      dryRun: config.dryRun,
      nodeAction: config.nodeAction,
      leaseCheck: config.leaseCheck,
      leaderElect: config.leaderElect,
      httpPort: http.port,
    });
    return reconciler;
  }

  get isLeader(): boolean {
    return this.elector?.isLeader ?? true;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.elector !== undefined) await this.elector.stop();
    // Without an elector `running` resolves to the work's stop function (even if start-up is still under way).
    const stopWork = await this.running;
    if (typeof stopWork === "function") await stopWork();
    this.http.closeAllConnections();
    await new Promise<void>((resolve) =>
      this.http.close(() => {
        resolve();
      }),
    );
    this.log.info("Stopped reconciler");
  }

  /** The work of the leader: watch and reconcile until told to stop. */
  private async lead(): Promise<() => Promise<void>> {
    const queue = new WorkQueue(
      { concurrency: this.config.concurrency, initialBackoffMs: 500, maxBackoffMs: 60_000 },
      (name) => this.reconcileTimed(name),
      (name, err, retryInMs) => {
        const error = classifyError(err);
        this.metrics.reconcileErrors.inc({ class: error.class });
        this.log.warn("Reconcile failed; retrying", { name, error: error.message, retryInMs });
      },
    );
    const stopCoverage = new CoverageMonitor(this.deps, this.config.netconsoleSilentAfterSeconds * 1000).start(
      this.config.coverageCheckSeconds * 1000,
    );
    let watch: EventWatch | undefined;
    const onEvent = (event: KernelPanicEvent) => {
      this.rememberAdmission(event);
      queue.add(event.metadata.name);
      this.metrics.queueDepth.set(queue.depth);
    };
    for (;;) {
      try {
        watch = await watchKernelPanicEvents(
          this.kc,
          this.deps.reader,
          onEvent,
          {
            resyncMs: this.config.resyncSeconds * 1000,
            onRestart: () => {
              this.metrics.watchRestarts.inc();
            },
          },
          this.log,
        );
        break;
      } catch (err) {
        if (this.stopping)
          return async () => {
            await stopCoverage();
            await queue.stop();
          };
        this.log.warn("Could not start watching KernelPanicEvents; retrying", { error: classifyError(err).message });
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
    }
    return async () => {
      await stopCoverage();
      await watch.stop();
      await queue.stop();
    };
  }

  private async reconcileTimed(name: string): Promise<{ requeueAfterMs?: number }> {
    const end = this.metrics.reconcileDuration.startTimer();
    try {
      return await reconcile(name, this.deps);
    } finally {
      end();
    }
  }

  /**
   * Admissions and forgery suspicions survive restarts and leader changes: they are read back from the
   * events' status.
   */
  private rememberAdmission(event: KernelPanicEvent): void {
    const remediated = getCondition(event.status, CONDITIONS.remediated);
    if (remediated === undefined) return;
    if (remediated.reason === REASONS.nodeAlive && event.status?.nodeName !== undefined)
      this.deps.forgery.refused(event.status.nodeName, Date.parse(remediated.lastTransitionTime), event.metadata.name);
    if (remediated.reason === REASONS.inProgress || remediated.reason === REASONS.remediated) {
      this.deps.guard.remember(
        event.metadata.name,
        Date.parse(remediated.lastTransitionTime),
        event.status?.nodeName ?? "",
      );
    }
  }
}
