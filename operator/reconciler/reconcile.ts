// Reconcile one KernelPanicEvent: read the current state, decide, act, record. Never the event type: a
// reconcile that was interrupted finishes on the next pass, and a finished event is a no-op (but for its TTL).
//
//   get → gone? done → finished? expire after TTL → resolve the node → held for forgery? wait for approval
//   → corroborate: probe the node (a fraction of a second), else watch its Lease for a renewal interval
//   → capture the node's workloads; a cascade's next node? wait for approval → storm guard → mark InProgress
//   → annotate and cordon the node → fail and delete the pods → remove the node → Events on the pods' owners
//   → Remediated (then the cascade Warnings)
import type { V1Node } from "@kubernetes/client-node";
import {
  isRecovered,
  type KernelPanicEvent,
  type KernelPanicEventStatus,
  type Workload,
} from "../api/kernelpanicevent.ts";
import { ANNOTATIONS } from "../api/keys.ts";
import type { ClusterReader } from "../kube/reader.ts";
import type { ClusterWriter } from "../kube/writer.ts";
import type { Logger } from "../log.ts";
import { CONDITIONS, REASONS, getCondition, isFinished, isRefused } from "./status/conditions.ts";
import type { ReconcilerMetrics } from "./metrics.ts";
import { handleNode, markNode, type NodeAction, type NodeWriter } from "./remediation/node.ts";
import { recordPodEvents, type PodEventWriter } from "./remediation/pod-events.ts";
import { terminatePods, type PodWriter } from "./remediation/pods.ts";
import { findNode } from "./corroboration/find-node.ts";
import type { NodeCache } from "./corroboration/node-cache.ts";
import type { StormGuard } from "./fleet/stormguard.ts";
import type { ForgeryGuard } from "./fleet/forgery.ts";
import { streamVerdict } from "./corroboration/stream-verdict.ts";
import type { CrashLoopTracker } from "./fleet/crashloop.ts";
import * as crashLoops from "./remediation/crashloop-report.ts";
import type { LivenessWatch } from "./corroboration/lease-liveness.ts";
import { kpeRef, record } from "./status/event-status.ts";
import { corroborate, endConfirmation, isConfirmingAnswer, startProbe } from "./corroboration/corroborate.ts";
import type { NodeProbes } from "./corroboration/node-probes.ts";
import { refuse } from "./remediation/refusals.ts";
import { recordRecovered } from "./remediation/recovered.ts";
import { countsOf, reportRemediation } from "./remediation/remediation-report.ts";
import type { RemediationProgress } from "./remediation/progress.ts";
import { checkpointPods, finishWithoutNode, isInProgress } from "./remediation/resume.ts";
import { recordPods } from "./remediation/pod-records.ts";
import { recordImpacts } from "./remediation/impacts.ts";
import type { CascadeTracker } from "./fleet/cascade.ts";
import * as cascades from "./remediation/cascade-report.ts";

export interface ReconcileOptions {
  readonly nodeAction: NodeAction;
  readonly addressTypes: readonly string[];
  readonly remediateControlPlane: boolean;
  readonly leaseCheck: boolean;
  /** Finished events are deleted this long after they finished; refused ones after `refusedEventTtlMs`. */
  readonly eventTtlMs: number;
  readonly refusedEventTtlMs: number;
  readonly podConcurrency: number;
  /** The crash-loop window, for messages (the tracker counts). */
  readonly crashLoopWindowMs: number;
  /** Owners with at least this many pods on the node get a co-location warning (0: never). */
  readonly colocationWarnReplicas: number;
  readonly cascadeAction: cascades.CascadeAction;
  /** The cascade window, for messages (the tracker keeps the sightings). */
  readonly cascadeWindowMs: number;
}

/** What reconcile reads: the event (and the others, for a recovered panic's twin), the nodes, one node's pods and Lease. */
export type ReconcileReader = Pick<
  ClusterReader,
  | "getKernelPanicEvent"
  | "listKernelPanicEvents"
  | "listNodes"
  | "getNode"
  | "listPodsOnNode"
  | "getNodeLease"
  | "getController"
>;

/** What reconcile writes: the event's status, the pods, the node, Events. */
export type ReconcileWriter = PodWriter &
  PodEventWriter &
  NodeWriter &
  Pick<
    ClusterWriter,
    "patchKernelPanicEventStatus" | "createKernelPanicImpact" | "deleteKernelPanicEvent" | "uncordonNode"
  >;

export interface ReconcileDeps {
  readonly reader: ReconcileReader;
  readonly writer: ReconcileWriter;
  readonly guard: Pick<StormGuard, "decide" | "remember">;
  readonly liveness: Pick<LivenessWatch, "observe" | "forget">;
  /** The Nodes as a watch last saw them: where a panicked node is looked for first (find-node.ts). */
  readonly nodes: Pick<NodeCache, "snapshot">;
  /** The active probe; undefined when it is off (the Lease alone corroborates). */
  readonly probes: Pick<NodeProbes, "corroborate" | "targetAt"> | undefined;
  readonly forgery: Pick<ForgeryGuard, "heldUntil" | "refused">;
  /** What each remediation under way has done to its pods, across passes. */
  readonly progress: RemediationProgress;
  readonly crashLoop: Pick<CrashLoopTracker, "panicked" | "loop">;
  readonly cascade: Pick<CascadeTracker, "ran" | "suspects" | "enabled">;
  readonly metrics: Pick<
    ReconcilerMetrics,
    | "remediations"
    | "forgerySuspected"
    | "podsFailed"
    | "podsDeleted"
    | "detectionToRemediation"
    | "colocationWarnings"
    | "crashLoops"
    | "recoveredPanics"
    | "cascades"
    | "corroborations"
    | "nodeLookups"
  >;
  readonly log: Logger;
  readonly options: ReconcileOptions;
  /** The one clock of every timestamp reconcile writes and every duration it measures on the wall clock. */
  readonly now: () => Date;
}

/** When to look at the event again (lease grace, storm guard, TTL); undefined when nothing is pending. */
export interface ReconcileResult {
  readonly requeueAfterMs?: number;
}

/**
 * `signal` is aborted when the reconciler stops (its leadership lost): the pass ends at its next step, and the
 * next leader resumes it from the event's status (an InProgress remediation carries on where it stopped).
 */
export async function reconcile(name: string, deps: ReconcileDeps, signal?: AbortSignal): Promise<ReconcileResult> {
  const event = await deps.reader.getKernelPanicEvent(name);
  if (event === undefined) {
    deps.liveness.forget(name);
    return {};
  }
  const done = nothingToDo(event, deps);
  if (done !== undefined) return done;
  const confirming = isConfirmingAnswer(event);
  const early = startProbe(event, deps);
  const { nodes, resolution } = await findNode(event, {
    ...deps,
    onLookup: (source) => {
      deps.metrics.nodeLookups.inc({ source });
    },
  });
  if (!resolution.ok) {
    if (confirming) {
      await endConfirmation(event, deps, resolution.message);
      return { requeueAfterMs: deps.options.refusedEventTtlMs };
    }
    // A restart after this remediation deleted the Node (or someone else did, mid-way): finish, not refuse.
    if (isInProgress(event) && resolution.reason === REASONS.nodeNotFound) return finishWithoutNode(event, deps);
    return refuse(event, deps, { nodeResolved: false, reason: resolution.reason, message: resolution.message });
  }
  const node = resolution.node;
  const held = confirming ? undefined : await holdIfForged(event, node, deps);
  if (held !== undefined) return held;
  // While the probe's window runs, the node's workloads are read (only read: they count once it is dead).
  const workloads = early === undefined ? undefined : cascades.readWorkloads(event, node.metadata?.name ?? "", deps);
  const corroboration = await corroborate(event, node, deps, early);
  if ("stop" in corroboration) return corroboration.stop;
  signal?.throwIfAborted();
  return admitAndRemediate(corroboration.proceed, node, nodes, deps, { workloads, signal });
}

/**
 * The passes that never read the node: a panic recovered after a reboot (pstore, kdump) is history, recorded as
 * such; a finished event waits out its TTL. A refusal because the node answered the probe is final but for its
 * Lease, still watched to confirm it: that one goes on.
 */
function nothingToDo(event: KernelPanicEvent, deps: ReconcileDeps): Promise<ReconcileResult> | undefined {
  if (isRecovered(event.spec))
    return isFinished(event.status) ? expireIfDue(event, deps) : recordRecovered(event, deps);
  if (isFinished(event.status) && !isConfirmingAnswer(event)) return expireIfDue(event, deps);
  return undefined;
}

/** Past corroboration: a cascade's hold, then the storm guard, then the remediation. */
async function admitAndRemediate(
  event: KernelPanicEvent,
  node: V1Node,
  nodes: readonly V1Node[],
  deps: ReconcileDeps,
  pass: { workloads: Promise<Workload[] | undefined> | undefined; signal: AbortSignal | undefined },
): Promise<ReconcileResult> {
  const cascade = await cascades.findCascade(event, node.metadata?.name ?? "", deps, pass.workloads);
  if (cascade.hold !== undefined && !isApproved(event)) return holdCascade(event, node, cascade, deps);
  const admission = admit(event, node, nodes, deps);
  if (admission !== undefined) {
    const waiting = { reason: REASONS.stormGuard, message: admission.message, status: "False" } as const;
    await record(event, deps, node, waiting, cascades.cascadeStatus(cascade));
    return { requeueAfterMs: admission.retryAfterMs };
  }
  return remediate(event, node, cascade, deps, pass.signal);
}

function isApproved(event: KernelPanicEvent): boolean {
  return event.metadata.annotations?.[ANNOTATIONS.approve] === "true";
}

/** A cascade's next node waits for a person: remediating it would move the suspect's pods to the next node. */
async function holdCascade(
  event: KernelPanicEvent,
  node: V1Node,
  cascade: cascades.CascadeFinding,
  deps: ReconcileDeps,
): Promise<ReconcileResult> {
  const nodeName = node.metadata?.name ?? "";
  const message = cascades.holdMessage(cascade.hold!, nodeName, cascade.windowMs);
  await cascades.announceCascade(event, cascade, deps);
  if (getCondition(event.status, CONDITIONS.remediated)?.message !== message) {
    const waiting = { reason: REASONS.cascadeSuspected, message, status: "False" } as const;
    await record(event, deps, node, waiting, cascades.cascadeStatus(cascade));
    await deps.writer.recordEvent(kpeRef(event), "Warning", REASONS.cascadeSuspected, message);
  }
  // The approval annotation arrives through the watch; this is only the safety net.
  return { requeueAfterMs: CASCADE_RECHECK_MS };
}

/** How often a cascade-held event is looked at again without news. */
const CASCADE_RECHECK_MS = 60_000;

/**
 * A node that forged panics were sent about is held: its events wait for approval until the hold ends. Not a
 * panic that continued the node's own stream: forgers cannot make one, so their refusals must not hold it back.
 */
async function holdIfForged(
  event: KernelPanicEvent,
  node: V1Node,
  deps: ReconcileDeps,
): Promise<ReconcileResult | undefined> {
  if (isApproved(event) || streamVerdict(event, node).continuous) return undefined;
  const nodeName = node.metadata?.name ?? "";
  const until = deps.forgery.heldUntil(nodeName, deps.now().getTime());
  if (until === undefined) return undefined;
  const message = `Node ${nodeName} is held until ${new Date(until).toISOString()}: panics about it were refused as forged several times. Waiting; annotate lastgasp.dev/approve="true" to proceed now.`;
  if (getCondition(event.status, CONDITIONS.remediated)?.reason !== REASONS.approvalRequired)
    await record(event, deps, node, { reason: REASONS.approvalRequired, message, status: "False" });
  return { requeueAfterMs: Math.max(1000, until - deps.now().getTime()) };
}

/** The storm guard's verdict: undefined when admitted (or admitted before). */
function admit(
  event: KernelPanicEvent,
  node: V1Node,
  nodes: readonly V1Node[],
  deps: ReconcileDeps,
): { retryAfterMs: number; message: string } | undefined {
  const approved = isApproved(event);
  const names = new Set(nodes.map((n) => n.metadata?.name ?? ""));
  const decision = deps.guard.decide(
    { name: event.metadata.name, nodeName: node.metadata?.name ?? "", approved },
    deps.now().getTime(),
    names,
  );
  return decision.admitted ? undefined : decision;
}

async function remediate(
  found: KernelPanicEvent,
  node: V1Node,
  cascade: cascades.CascadeFinding,
  deps: ReconcileDeps,
  signal: AbortSignal | undefined,
): Promise<ReconcileResult> {
  const nodeName = node.metadata?.name ?? "";
  const { event, announce } = await markInProgress(found, node, cascades.cascadeStatus(cascade), deps);
  signal?.throwIfAborted();
  const loop = crashLoops.crashLoopOf(deps.crashLoop, event, nodeName, deps.options.crashLoopWindowMs);
  const action = crashLoops.quarantined(deps.options.nodeAction, loop);
  // The announcement is not on the way to the pods: it is written while the node is marked.
  await Promise.all([announce(), markNode(node, event, action, deps.writer)]);
  const listed = await deps.reader.listPodsOnNode(nodeName);
  const recording = recordPods(event, listed, deps);
  const pods = await terminatePods(listed, event, nodeName, deps.writer, {
    concurrency: deps.options.podConcurrency,
    log: deps.log,
    now: deps.now,
    outcome: deps.progress.of(event),
    recorded: recording,
  });
  // Written before the Node is acted on: a restart after it was deleted then knows what was done.
  const checkpointed = await checkpointPods(event, countsOf(pods), deps);
  signal?.throwIfAborted();
  const nodeOutcome = await handleNode(node, event, action, deps.writer, deps.now);
  if (loop !== undefined) await crashLoops.announceCrashLoop(node, loop, deps.writer, deps.metrics);
  await Promise.all([
    recordPodEvents([...pods.terminated.values()], event, nodeName, deps.writer, {
      concurrency: deps.options.podConcurrency,
      colocationWarnReplicas: deps.options.colocationWarnReplicas,
      metrics: deps.metrics,
      log: deps.log,
    }),
    recordImpacts(event, nodeName, await recording, deps),
  ]);
  await reportRemediation(checkpointed, nodeName, { pods: countsOf(pods), nodeOutcome, loop, cascade }, deps);
  deps.progress.forget(event);
  // After Remediated: the suspects are in the status already, the Warnings are for the workloads' owners.
  await cascades.announceCascade(found, cascade, deps);
  return { requeueAfterMs: deps.options.eventTtlMs };
}

/**
 * Admitted: from now on a restart resumes this remediation (the storm guard counts it). `announce` records the
 * KernelPanic Event the first time only.
 */
async function markInProgress(
  event: KernelPanicEvent,
  node: V1Node,
  captured: KernelPanicEventStatus,
  deps: ReconcileDeps,
): Promise<{ event: KernelPanicEvent; announce: () => Promise<void> }> {
  if (getCondition(event.status, CONDITIONS.remediated)?.reason === REASONS.inProgress)
    return { event, announce: () => Promise.resolve() };
  const nodeName = node.metadata?.name ?? "";
  const dry = deps.writer.dryRun;
  const marked = await record(
    event,
    deps,
    node,
    {
      reason: REASONS.inProgress,
      message: `${dry ? "Dry run: computing" : "Remediating"} Node ${nodeName}.`,
      status: "False",
    },
    captured,
  );
  const plan = dry ? "Dry run: nothing will be changed." : "Failing its pods and removing it.";
  const announce = () =>
    deps.writer.recordEvent(
      kpeRef(event),
      "Warning",
      "KernelPanic",
      `Node ${nodeName} had a kernel panic: ${event.spec.reason}. ${plan}`,
    );
  return { event: marked, announce };
}

async function expireIfDue(event: KernelPanicEvent, deps: ReconcileDeps): Promise<ReconcileResult> {
  const finishedAt = Date.parse(
    getCondition(event.status, CONDITIONS.remediated)?.lastTransitionTime ?? event.metadata.creationTimestamp ?? "",
  );
  const ttlMs = isRefused(event.status) ? deps.options.refusedEventTtlMs : deps.options.eventTtlMs;
  const dueInMs = finishedAt + ttlMs - deps.now().getTime();
  if (Number.isNaN(dueInMs) || dueInMs > 0) return { requeueAfterMs: Number.isNaN(dueInMs) ? ttlMs : dueInMs };
  await deps.writer.deleteKernelPanicEvent(event.metadata.name, event.metadata.uid ?? "");
  deps.log.info("Deleted expired KernelPanicEvent", { name: event.metadata.name });
  return {};
}
