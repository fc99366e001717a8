// The reconciler's Prometheus metrics.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { registerBuildInfo } from "../build-info.ts";
import { REASONS } from "./status/conditions.ts";
import { PROBE_OUTCOMES } from "../net/tcp-probe.ts";

/** How one reconcile ended (controller-runtime's reconcile results). */
export const RECONCILE_RESULTS = ["success", "requeue_after", "error", "terminal_error", "cancelled"] as const;
export type ReconcileOutcome = (typeof RECONCILE_RESULTS)[number];

/** Every result of a finished KernelPanicEvent: remediated, a dry run, or a refusal's reason. */
export const REMEDIATION_RESULTS = [
  "remediated",
  "dry_run",
  // A panic recovered after a reboot (pstore, kdump): history, nothing to remediate.
  "recovered",
  REASONS.nodeNotFound,
  REASONS.ambiguousNode,
  REASONS.nodeCreatedAfterPanic,
  REASONS.nodeNameMismatch,
  REASONS.nodeExcluded,
  REASONS.controlPlaneNode,
  REASONS.nodeAlive,
  REASONS.noNodeLease,
  REASONS.recovered,
] as const;

/** Every Corroborated reason: the evidence each decision about a node's death or life rested on. */
export const CORROBORATION_EVIDENCE = [
  REASONS.probeSilent,
  REASONS.leaseStale,
  REASONS.corroborationDisabled,
  REASONS.probeAnswered,
  REASONS.leaseRenewed,
  REASONS.noNodeLease,
  REASONS.nodeNotFound,
] as const;

const PROBE_PHASES = ["baseline", "panic", "control"] as const;

export class ReconcilerMetrics {
  readonly registry = new Registry();
  readonly remediations = new Counter({
    name: "lastgasp_reconciler_remediations_total",
    help: "KernelPanicEvents finished, by result (remediated, dry_run, or the refusal reason).",
    labelNames: ["result"],
    registers: [this.registry],
  });
  readonly forgerySuspected = new Counter({
    name: "lastgasp_reconciler_forgery_suspected_total",
    help: "Times a node was held because several panics about it were refused as forged (NodeAlive); its further events need approval for forgeryHoldSeconds.",
    registers: [this.registry],
  });
  readonly podsFailed = new Counter({
    name: "lastgasp_reconciler_pods_failed_total",
    help: "Pods marked Failed with a DisruptionTarget condition.",
    registers: [this.registry],
  });
  readonly podsDeleted = new Counter({
    name: "lastgasp_reconciler_pods_deleted_total",
    help: "Pods deleted.",
    registers: [this.registry],
  });
  readonly colocationWarnings = new Counter({
    name: "lastgasp_reconciler_colocation_warnings_total",
    help: "KernelPanicColocated Warnings: owners with colocationWarnReplicas or more pods on the node that panicked.",
    registers: [this.registry],
  });
  readonly crashLoops = new Counter({
    name: "lastgasp_reconciler_crash_loops_total",
    help: "Panics that made their node's crash loop (crashLoopThreshold panics within crashLoopWindowSeconds): the node was quarantined (unless the panic was recovered after a reboot).",
    registers: [this.registry],
  });
  readonly recoveredPanics = new Counter({
    name: "lastgasp_reconciler_recovered_panics_total",
    help: "Panics node agents recovered after a reboot (pstore, kdump), by source and outcome: recorded (netconsole never carried it) or confirmed (netconsole's event noted it; the copy removed).",
    labelNames: ["source", "outcome"],
    registers: [this.registry],
  });
  readonly cascades = new Counter({
    name: "lastgasp_reconciler_cascades_total",
    help: "Panics whose node shared a workload with other nodes that panicked within cascadeWindowSeconds (KernelPanicCascade Warnings), by action: advised (named, remediated) or held (waiting for approval).",
    labelNames: ["action"],
    registers: [this.registry],
  });
  readonly corroborations = new Counter({
    name: "lastgasp_reconciler_corroborations_total",
    help: "Decisions about a panicked node's death or life, by the evidence used (the Corroborated condition's reason): ProbeSilent and LeaseStale said dead, ProbeAnswered and LeaseRenewed alive, Disabled nothing (lease check off).",
    labelNames: ["evidence"],
    registers: [this.registry],
  });
  readonly nodeLookups = new Counter({
    name: "lastgasp_reconciler_node_lookups_total",
    help: "Panicked nodes looked up, by source: cache (found in the Node watch's cache, then read with one GET) or list (every Node listed: the cache had not synced, its watch was down, or it did not name exactly one acceptable node).",
    labelNames: ["source"],
    registers: [this.registry],
  });
  readonly probes = new Counter({
    name: "lastgasp_reconciler_probes_total",
    help: "TCP connects to nodes' kubelet ports, by phase (baseline: the periodic sweep; panic: the node said to have panicked; control: other nodes asked at the same time) and outcome (connected, refused, silent, failed).",
    labelNames: ["phase", "outcome"],
    registers: [this.registry],
  });
  readonly probeBaselineNodes = new Gauge({
    name: "lastgasp_reconciler_probe_baseline_nodes",
    help: "Nodes whose kubelet port answered a probe recently enough to corroborate a panic in about a second (the others wait out the Lease).",
    registers: [this.registry],
  });
  readonly probeSweeps = new Counter({
    name: "lastgasp_reconciler_probe_sweeps_total",
    help: "Periodic probes of every node's kubelet port completed (one per probeIntervalSeconds unless a sweep overran).",
    registers: [this.registry],
  });
  readonly reconciles = new Counter({
    name: "lastgasp_reconciler_reconciles_total",
    help: "Reconciles by result: success (nothing pending), requeue_after (looked at again later), error (retried with backoff), terminal_error (not retried: the API server refused a request as invalid), cancelled (the reconciler stopped).",
    labelNames: ["result"],
    registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({
    name: "lastgasp_reconciler_reconcile_errors_total",
    help: "Reconciles that failed and were retried, by error class.",
    labelNames: ["class"],
    registers: [this.registry],
  });
  readonly watchRestarts = new Counter({
    name: "lastgasp_reconciler_watch_restarts_total",
    help: "Restarts of the KernelPanicEvent watch after an error.",
    registers: [this.registry],
  });
  readonly apiRequests = new Counter({
    name: "lastgasp_reconciler_api_requests_total",
    help: "API requests sent, by outcome (ok, throttled: 429 from API Priority and Fairness, error).",
    labelNames: ["outcome"],
    registers: [this.registry],
  });
  readonly nodes = new Gauge({
    name: "lastgasp_nodes",
    help: "Nodes in the cluster, as of the last netconsole coverage check.",
    registers: [this.registry],
  });
  readonly netconsoleNodes = new Gauge({
    name: "lastgasp_netconsole_nodes",
    help: "Nodes by netconsole coverage: covered (self-test heard recently), silent (heard once, not lately: flagged), unheard (never), unavailable (its agent reports its kernel cannot run netconsole).",
    labelNames: ["state"],
    registers: [this.registry],
  });
  readonly netconsoleSilentNode = new Gauge({
    name: "lastgasp_netconsole_silent_node",
    help: "1 for each node flagged because its netconsole self-test has not been heard for netconsoleSilentAfterSeconds.",
    labelNames: ["node"],
    registers: [this.registry],
  });
  readonly lastWordsNodes = new Gauge({
    name: "lastgasp_last_words_nodes",
    help: "Nodes by the last words they keep: netconsole (self-test heard lately), pstore (a backend registered), kdump (a capture kernel loaded), as their agents report.",
    labelNames: ["kind"],
    registers: [this.registry],
  });
  readonly withoutLastWordsNode = new Gauge({
    name: "lastgasp_node_without_last_words",
    help: "1 for each node whose agent reports neither pstore nor kdump while its netconsole is not heard: a panic there would leave no record.",
    labelNames: ["node"],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: "lastgasp_reconciler_queue_depth",
    help: "KernelPanicEvents waiting to be reconciled.",
    registers: [this.registry],
  });
  readonly eventWatchConnected = new Gauge({
    name: "lastgasp_reconciler_event_watch_connected",
    help: "1 while the leader's KernelPanicEvent watch is connected (0 on a standby, or while it reconnects).",
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: "lastgasp_reconciler_leader",
    help: "1 while this replica holds the leader Lease.",
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: "lastgasp_reconciler_reconcile_duration_seconds",
    help: "Time of one reconcile.",
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    registers: [this.registry],
  });
  readonly detectionToRemediation = new Histogram({
    name: "lastgasp_reconciler_detection_to_remediation_seconds",
    help: "From the panic's detection to its remediation.",
    buckets: [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "lastgasp_reconciler_" });
    // Series whose label values are known exist from the start, at 0: rate() and alerts see zero, not nothing.
    for (const result of REMEDIATION_RESULTS) this.remediations.inc({ result }, 0);
    for (const action of ["advised", "held"]) this.cascades.inc({ action }, 0);
    for (const source of ["pstore", "kdump"])
      for (const outcome of ["recorded", "confirmed"]) this.recoveredPanics.inc({ source, outcome }, 0);
    for (const result of RECONCILE_RESULTS) this.reconciles.inc({ result }, 0);
    for (const evidence of CORROBORATION_EVIDENCE) this.corroborations.inc({ evidence }, 0);
    for (const phase of PROBE_PHASES) for (const outcome of PROBE_OUTCOMES) this.probes.inc({ phase, outcome }, 0);
    registerBuildInfo(this.registry, "reconciler");
  }
}
