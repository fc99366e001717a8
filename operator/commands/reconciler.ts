// `lastgasp reconciler`: turns each KernelPanicEvent into failed, explained, removed pods and node. This is the
// reconciler's composition root: settings → options → objects, each handed what it needs.
import type { KubeConfig } from "@kubernetes/client-node";
import type { Command } from "./command.ts";
import { systemClock, type Clock } from "../clock.ts";
import { reconcilerSettings } from "../config/reconciler.ts";
import { describeSettings, resolveOptions, type SettingValues } from "../config/settings.ts";
import { AccessCheck, requireAccess, type Permission } from "../kube/access.ts";
import { ApiCaller } from "../kube/caller.ts";
import { loadKubeConfig } from "../kube/kubeconfig.ts";
import { ClusterLease } from "../kube/leases.ts";
import { ClusterReader } from "../kube/reader.ts";
import { ClusterWriter } from "../kube/writer.ts";
import { GROUP } from "../api/kernelpanicevent.ts";
import { createLogger, type Logger } from "../log.ts";
import { classifyError } from "../kube/errors.ts";
import { CoverageMonitor } from "../reconciler/fleet/coverage-monitor.ts";
import { ForgeryGuard } from "../reconciler/fleet/forgery.ts";
import { CrashLoopTracker } from "../reconciler/fleet/crashloop.ts";
import { CascadeTracker } from "../reconciler/fleet/cascade.ts";
import { RemediationProgress } from "../reconciler/remediation/progress.ts";
import { LeaderElector } from "../reconciler/loop/leader.ts";
import { LivenessWatch } from "../reconciler/corroboration/lease-liveness.ts";
import { tcpProbe } from "../net/tcp-probe.ts";
import { NodeProbes } from "../reconciler/corroboration/node-probes.ts";
import { NodeCache } from "../reconciler/corroboration/node-cache.ts";
import { ReconcilerMetrics } from "../reconciler/metrics.ts";
import { Reconciler } from "../reconciler/loop/controller.ts";
import { StormGuard } from "../reconciler/fleet/stormguard.ts";
import { readinessMonitor } from "./readiness.ts";
import { runUntilSignalled } from "./run.ts";
import {
  FORGERY_MAX_NODES,
  REMEDIATIONS_IN_PROGRESS_MAX,
  CASCADE_MAX_WORKLOADS,
  CRASH_LOOP_MAX_NODES,
  PROBE_MAX_NODES,
  LEADER_ELECTION,
  RECONCILE_BACKOFF_MS,
  RECONCILER_THROTTLE_RETRIES,
  REQUEST_TIMEOUT_MS,
  WATCH_START_RETRY_MS,
} from "./tuning.ts";

export type ReconcilerConfig = SettingValues<typeof reconcilerSettings>;

/** What remediation cannot do without (the chart's ClusterRole grants these and a few reads more). */
export const RECONCILER_PERMISSIONS: readonly Permission[] = [
  { verb: "watch", resource: "kernelpanicevents", group: GROUP },
  { verb: "patch", resource: "kernelpanicevents", group: GROUP, subresource: "status" },
  { verb: "patch", resource: "pods", subresource: "status" },
  { verb: "delete", resource: "pods" },
  { verb: "delete", resource: "nodes" },
  // The node cache (reconciler/corroboration/node-cache.ts).
  { verb: "watch", resource: "nodes" },
];

export const NODE_STATUS_PERMISSION: Permission = { verb: "patch", resource: "nodes", subresource: "status" };

export const reconcilerCommand: Command = {
  usage: `Usage: lastgasp reconciler [options]\n\nEvery option can also be set with the environment variable shown.\n\n${describeSettings(reconcilerSettings)}`,
  run: async (args) =>
    runUntilSignalled("reconciler", async () => {
      const config = resolveOptions(reconcilerSettings, args, process.env);
      const log = createLogger(config.logLevel, "reconciler", { format: config.logFormat });
      const reconciler = await launchReconciler(config, loadKubeConfig(config.kubeconfig), log);
      return async () => reconciler.stop();
    }),
};

/** Builds the reconciler from its settings and starts it; rejects at once when the credentials cannot work. */
export async function launchReconciler(
  config: ReconcilerConfig,
  kc: KubeConfig,
  log: Logger,
  clock: Clock = systemClock,
): Promise<Reconciler> {
  const metrics = new ReconcilerMetrics();
  const caller = new ApiCaller(
    {
      qps: config.qps,
      burst: config.burst,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      throttleRetries: RECONCILER_THROTTLE_RETRIES,
      onResponse: (outcome) => {
        metrics.apiRequests.inc({ outcome });
      },
    },
    clock,
  );
  const access = new AccessCheck(kc, caller);
  // A kept node gets the KernelPanic condition (repair hand-off): only then is nodes/status needed.
  const nodeStatus = config.nodeAction === "delete" ? [] : [NODE_STATUS_PERMISSION];
  await requireAccess(access, [...RECONCILER_PERMISSIONS, ...nodeStatus]);
  const reader = new ClusterReader(kc, caller);
  const writer = new ClusterWriter(kc, caller, { dryRun: config.dryRun, component: "lastgasp-reconciler" });
  const probes = config.leaseCheck && config.probe ? nodeProbes(config, reader, metrics, log, clock) : undefined;
  const nodes = new NodeCache({ source: reader, log, clock, retryMs: WATCH_START_RETRY_MS });
  const deps = {
    reader,
    writer,
    nodes,
    guard: new StormGuard({
      maxNodes: config.stormMaxNodes,
      maxPercent: config.stormMaxPercent,
      windowMs: config.stormWindowSeconds * 1000,
    }),
    liveness: new LivenessWatch(config.leaseMarginSeconds * 1000, clock),
    probes,
    forgery: new ForgeryGuard({
      threshold: config.forgeryThreshold,
      windowMs: config.forgeryWindowSeconds * 1000,
      holdMs: config.forgeryHoldSeconds * 1000,
      maxNodes: FORGERY_MAX_NODES,
    }),
    progress: new RemediationProgress(REMEDIATIONS_IN_PROGRESS_MAX),
    crashLoop: new CrashLoopTracker({
      threshold: config.crashLoopThreshold,
      windowMs: config.crashLoopWindowSeconds * 1000,
      maxNodes: CRASH_LOOP_MAX_NODES,
    }),
    cascade: new CascadeTracker({ windowMs: config.cascadeWindowSeconds * 1000, maxWorkloads: CASCADE_MAX_WORKLOADS }),
    metrics,
    log,
    now: () => clock.now(),
    clock,
    options: {
      nodeAction: config.nodeAction,
      addressTypes: config.nodeAddressTypes,
      remediateControlPlane: config.remediateControlPlane,
      leaseCheck: config.leaseCheck,
      eventTtlMs: config.eventTtlSeconds * 1000,
      refusedEventTtlMs: config.refusedEventTtlSeconds * 1000,
      podConcurrency: config.podConcurrency,
      colocationWarnReplicas: config.colocationWarnReplicas,
      crashLoopWindowMs: config.crashLoopWindowSeconds * 1000,
      cascadeAction: config.cascadeAction,
      cascadeWindowMs: config.cascadeWindowSeconds * 1000,
    },
  };
  const coverage = new CoverageMonitor(
    deps,
    config.netconsoleSilentAfterSeconds * 1000,
    config.coverageCheckSeconds * 1000,
  );
  return Reconciler.start({
    deps,
    events: reader,
    tasks: probes === undefined ? [nodes, coverage] : [nodes, coverage, probes],
    elector: config.leaderElect
      ? new LeaderElector(
          new ClusterLease(kc, caller, { namespace: config.leaderElectionNamespace, name: config.leaderElectionId }),
          {
            lease: `${config.leaderElectionNamespace}/${config.leaderElectionId}`,
            identity: config.identity,
            ...LEADER_ELECTION,
          },
          log,
          clock,
        )
      : undefined,
    access: readinessMonitor(access, RECONCILER_PERMISSIONS, log, clock),
    metrics,
    log,
    clock,
    options: {
      httpAddress: config.httpAddress,
      concurrency: config.concurrency,
      resyncMs: config.resyncSeconds * 1000,
      reconcileBackoffMs: RECONCILE_BACKOFF_MS,
      watchStartRetryMs: WATCH_START_RETRY_MS,
      stallMs: config.stallSeconds * 1000,
      summary: {
        dryRun: config.dryRun,
        nodeAction: config.nodeAction,
        leaseCheck: config.leaseCheck,
        probe: probes !== undefined,
        leaderElect: config.leaderElect,
      },
    },
  });
}

function nodeProbes(
  config: ReconcilerConfig,
  reader: ClusterReader,
  metrics: ReconcilerMetrics,
  log: Logger,
  clock: Clock,
): NodeProbes {
  return new NodeProbes(
    {
      intervalMs: config.probeIntervalSeconds * 1000,
      timeoutMs: config.probeTimeoutMs,
      windowMs: config.probeWindowMs,
      attempts: config.probeAttempts,
      controls: config.probeControls,
      concurrency: config.probeConcurrency,
      maxNodes: PROBE_MAX_NODES,
      addressTypes: config.nodeAddressTypes,
    },
    {
      probe: tcpProbe(clock),
      nodes: reader,
      onSweepError: (err) => {
        log.warn("Failed to probe the nodes", { error: classifyError(err).message, err });
      },
      clock,
      onResult: (phase, outcome) => {
        metrics.probes.inc({ phase, outcome });
      },
      onSweep: (baselined) => {
        metrics.probeBaselineNodes.set(baselined);
        metrics.probeSweeps.inc();
        log.debug("Probed every node's kubelet port", { baselined });
      },
    },
  );
}
