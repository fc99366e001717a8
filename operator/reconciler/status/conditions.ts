// The KernelPanicEvent's conditions (Kubernetes API conventions): one per step, each with a reason for every
// outcome. lastTransitionTime moves only when a condition's status changes.
import type { Condition, KernelPanicEventStatus } from "../../api/kernelpanicevent.ts";

export const CONDITIONS = {
  nodeResolved: "NodeResolved",
  podsTerminated: "PodsTerminated",
  nodeRemoved: "NodeRemoved",
  remediated: "Remediated",
  /** True when this panic made its node's crash loop (crashLoopThreshold panics within the window). */
  crashLoop: "CrashLoop",
  /** Which evidence beside the packet said the node is dead (or alive): the probe, the Lease, or none. */
  corroborated: "Corroborated",
} as const;

export const REASONS = {
  // CrashLoop
  crashLoop: "CrashLoop",
  // Remediated: progress and success
  inProgress: "InProgress",
  remediated: "Remediated",
  dryRun: "DryRun",
  // Remediated: waiting (not final)
  waitingForLease: "WaitingForLease",
  stormGuard: "StormGuard",
  approvalRequired: "ApprovalRequired",
  cascadeSuspected: "CascadeSuspected",
  // Refusals (final)
  nodeNotFound: "NodeNotFound",
  ambiguousNode: "AmbiguousNode",
  nodeCreatedAfterPanic: "NodeCreatedAfterPanic",
  nodeNameMismatch: "NodeNameMismatch",
  nodeExcluded: "NodeExcluded",
  controlPlaneNode: "ControlPlaneNode",
  nodeAlive: "NodeAlive",
  noNodeLease: "NoNodeLease",
  // A panic recovered after its node rebooted (pstore, kdump): history, never acted on
  recovered: "Recovered",
  // Corroborated
  probeSilent: "ProbeSilent",
  leaseStale: "LeaseStale",
  corroborationDisabled: "Disabled",
  probeAnswered: "ProbeAnswered",
  leaseRenewed: "LeaseRenewed",
  streamAfterPanic: "StreamAfterPanic",
  // Node Events
  forgedPanics: "ForgedPanicsSuspected",
  // KernelPanicEvent Events: a node answered the probe, yet its Lease stopped
  probeContradicted: "ProbeContradicted",
  // Step results
  nodeFound: "NodeFound",
  podsFailed: "PodsFailed",
  nodeDeleted: "NodeDeleted",
  nodeAlreadyGone: "NodeAlreadyGone",
  nodeReplaced: "NodeReplaced",
  nodeTainted: "NodeTainted",
  nodeKept: "NodeActionNone",
} as const;

/** Reasons under which an event still has work to do. */
const WAITING = new Set<string>([
  REASONS.inProgress,
  REASONS.waitingForLease,
  REASONS.stormGuard,
  REASONS.approvalRequired,
  REASONS.cascadeSuspected,
]);
/** Reasons of a finished event on which something was done (or would have been, in a dry run). */
const KEPT = new Set<string>([REASONS.remediated, REASONS.dryRun, REASONS.recovered]);

export function getCondition(status: KernelPanicEventStatus | undefined, type: string): Condition | undefined {
  return status?.conditions?.find((c) => c.type === type);
}

/** Finished: remediated, reported as dry run, or refused for good. Only the TTL applies then. */
export function isFinished(status: KernelPanicEventStatus | undefined): boolean {
  const remediated = getCondition(status, CONDITIONS.remediated);
  return remediated !== undefined && remediated.status !== "Unknown" && !WAITING.has(remediated.reason);
}

/**
 * Finished without acting: a refusal (no node, alive, excluded…). Those expire sooner than remediations; a
 * recovered panic (nothing to act on) is kept as long as a remediation, as the crash's record.
 */
export function isRefused(status: KernelPanicEventStatus | undefined): boolean {
  const remediated = getCondition(status, CONDITIONS.remediated);
  return isFinished(status) && remediated !== undefined && !KEPT.has(remediated.reason);
}

/** A condition as reconcile sets it; its transition time and observed generation are stamped when written. */
export interface ConditionUpdate {
  readonly type: string;
  readonly status: Condition["status"];
  readonly reason: string;
  readonly message: string;
}

export function setCondition(
  conditions: readonly Condition[],
  update: ConditionUpdate,
  now: Date,
  generation: number | undefined,
): Condition[] {
  const existing = conditions.find((c) => c.type === update.type);
  const lastTransitionTime =
    existing !== undefined && existing.status === update.status ? existing.lastTransitionTime : now.toISOString();
  const next: Condition = {
    ...update,
    lastTransitionTime,
    ...(generation === undefined ? {} : { observedGeneration: generation }),
  };
  return [...conditions.filter((c) => c.type !== update.type), next];
}
