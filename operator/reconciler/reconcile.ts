// Reconcile one KernelPanicEvent: read the current state, decide, act, record. Never the event type: a
// reconcile that was interrupted finishes on the next pass, and a finished event is a no-op (but for its TTL).
//
//   get → gone? done → finished? expire after TTL → resolve the node → wait out the lease check → storm guard
//   → mark InProgress → fail and delete the pods → annotate and remove the node → Remediated
import type { V1Node } from "@kubernetes/client-node";
import type { Condition, KernelPanicEvent, KernelPanicEventStatus } from "../api/kernelpanicevent.ts";
import { ANNOTATIONS } from "../api/keys.ts";
import type { ClusterReader } from "../kube/reader.ts";
import type { ClusterWriter } from "../kube/writer.ts";
import type { Logger } from "../log.ts";
import { CONDITIONS, REASONS, getCondition, isFinished, setCondition } from "./conditions.ts";
import type { ReconcilerMetrics } from "./metrics.ts";
import { handleNode, type NodeAction, type NodeOutcome } from "./node.ts";
import { recordPodEvents, terminatePods, type PodOutcome } from "./pods.ts";
import { resolveNode } from "./resolve.ts";
import type { StormGuard } from "./stormguard.ts";

export interface ReconcileOptions {
  readonly nodeAction: NodeAction;
  readonly addressTypes: readonly string[];
  readonly remediateControlPlane: boolean;
  readonly leaseCheck: boolean;
  /** How long after the panic the node's Lease is read: a live kubelet renews it every 10 s. */
  readonly leaseGraceMs: number;
  readonly eventTtlMs: number;
  readonly podConcurrency: number;
}

export interface ReconcileDeps {
  readonly reader: ClusterReader;
  readonly writer: ClusterWriter;
  readonly guard: StormGuard;
  readonly metrics: ReconcilerMetrics;
  readonly log: Logger;
  readonly options: ReconcileOptions;
  readonly now: () => Date;
}

/** When to look at the event again (lease grace, storm guard, TTL); undefined when nothing is pending. */
export interface ReconcileResult {
  readonly requeueAfterMs?: number;
}

/** A renewal this much after the panic proves the kubelet is alive (allows for clock skew between machines). */
const LEASE_SKEW_MS = 2000;

export async function reconcile(name: string, deps: ReconcileDeps): Promise<ReconcileResult> {
  const event = await deps.reader.getKernelPanicEvent(name);
  if (event === undefined) return {};
  if (isFinished(event.status)) return expireIfDue(event, deps);
  const nodes = await deps.reader.listNodes();
  const resolution = resolveNode(event, nodes, deps.options);
  if (!resolution.ok)
    return refuse(event, deps, { nodeResolved: false, reason: resolution.reason, message: resolution.message });
  const node = resolution.node;
  const wait = await checkLease(event, node, deps);
  if (wait !== undefined) return wait;
  const admission = admit(event, node, nodes, deps);
  if (admission !== undefined)
    return record(event, deps, node, { reason: REASONS.stormGuard, message: admission.message, status: "False" }).then(
      () => ({ requeueAfterMs: admission.retryAfterMs }),
    );
  return remediate(event, node, deps);
}

async function checkLease(
  event: KernelPanicEvent,
  node: V1Node,
  deps: ReconcileDeps,
): Promise<ReconcileResult | undefined> {
  if (!deps.options.leaseCheck) return undefined;
  const detected = Date.parse(event.spec.detectedTime);
  const waitMs = detected + deps.options.leaseGraceMs - deps.now().getTime();
  const nodeName = node.metadata?.name ?? "";
  if (waitMs > 0) {
    const message = `Waiting until ${new Date(detected + deps.options.leaseGraceMs).toISOString()} to confirm that Node ${nodeName}'s Lease is no longer renewed.`;
    if (getCondition(event.status, CONDITIONS.remediated)?.reason !== REASONS.waitingForLease)
      await record(event, deps, node, { reason: REASONS.waitingForLease, message, status: "False" });
    return { requeueAfterMs: waitMs };
  }
  const lease = await deps.reader.getNodeLease(nodeName);
  const renewed = lease?.spec?.renewTime === undefined ? undefined : new Date(lease.spec.renewTime).getTime();
  if (renewed === undefined || renewed <= detected + LEASE_SKEW_MS) return undefined;
  const message = `Node ${nodeName}'s Lease was renewed at ${new Date(renewed).toISOString()}, after the reported panic at ${event.spec.detectedTime}: the node is alive. The panic packet was forged or misattributed; nothing was touched.`;
  await deps.writer.recordEvent(
    {
      kind: "Node",
      apiVersion: "v1",
      name: nodeName,
      ...(node.metadata?.uid === undefined ? {} : { uid: node.metadata.uid }),
    },
    "Warning",
    REASONS.nodeAlive,
    message,
  );
  return refuse(event, deps, { nodeResolved: true, node, reason: REASONS.nodeAlive, message });
}

/** The storm guard's verdict: undefined when admitted (or admitted before). */
function admit(
  event: KernelPanicEvent,
  node: V1Node,
  nodes: readonly V1Node[],
  deps: ReconcileDeps,
): { retryAfterMs: number; message: string } | undefined {
  const approved = event.metadata.annotations?.[ANNOTATIONS.approve] === "true";
  const names = new Set(nodes.map((n) => n.metadata?.name ?? ""));
  const decision = deps.guard.decide(
    { name: event.metadata.name, nodeName: node.metadata?.name ?? "", approved },
    deps.now().getTime(),
    names,
  );
  return decision.admitted ? undefined : decision;
}

async function remediate(event: KernelPanicEvent, node: V1Node, deps: ReconcileDeps): Promise<ReconcileResult> {
  const nodeName = node.metadata?.name ?? "";
  await markInProgress(event, node, deps);
  // A dead node still looks Ready for ~50 s: cordon it first, or the scheduler puts replacements right back.
  if (deps.options.nodeAction !== "none" && node.spec?.unschedulable !== true) await deps.writer.cordonNode(nodeName);
  const pods = await terminatePods(await deps.reader.listPodsOnNode(nodeName), event, nodeName, deps.writer, {
    concurrency: deps.options.podConcurrency,
    log: deps.log,
  });
  const nodeOutcome = await handleNode(node, event, deps.options.nodeAction, deps.writer);
  await recordPodEvents(pods.terminated, event, nodeName, deps.writer, {
    concurrency: deps.options.podConcurrency,
    log: deps.log,
  });
  await reportRemediation(event, nodeName, pods, nodeOutcome, deps);
  return { requeueAfterMs: deps.options.eventTtlMs };
}

/** Admitted: from now on a restart resumes this remediation (the storm guard counts it). */
async function markInProgress(event: KernelPanicEvent, node: V1Node, deps: ReconcileDeps): Promise<void> {
  if (getCondition(event.status, CONDITIONS.remediated)?.reason === REASONS.inProgress) return;
  const nodeName = node.metadata?.name ?? "";
  const dry = deps.writer.dryRun;
  await record(event, deps, node, {
    reason: REASONS.inProgress,
    message: `${dry ? "Dry run: computing" : "Remediating"} Node ${nodeName}.`,
    status: "False",
  });
  const plan = dry ? "Dry run: nothing will be changed." : "Failing its pods and removing it.";
  await deps.writer.recordEvent(
    kpeRef(event),
    "Warning",
    "KernelPanic",
    `Node ${nodeName} had a kernel panic: ${event.spec.reason}. ${plan}`,
  );
}

async function reportRemediation(
  event: KernelPanicEvent,
  nodeName: string,
  pods: PodOutcome,
  nodeOutcome: NodeOutcome,
  deps: ReconcileDeps,
): Promise<void> {
  const dry = deps.writer.dryRun;
  const now = deps.now();
  const seconds = Math.max(0, (now.getTime() - Date.parse(event.spec.detectedTime)) / 1000);
  const verb = dry ? "would be" : "were";
  const podsMessage = `${pods.failed} pods ${verb} marked Failed (DisruptionTarget) and ${pods.deleted} deleted; ${pods.annotatedOnly} already finished ${verb} annotated; ${pods.replaced} of them already replaced by their controller (replacements left alone).`;
  const summary = `${podsMessage} ${nodeOutcome.message}.`;
  const updates = finalConditions({ event, nodeName, dry, podsMessage, nodeOutcome, summary, seconds });
  const conditions = updates.reduce(
    (list, update) => setCondition(list, update, now, event.metadata.generation),
    event.status?.conditions ?? [],
  );
  await writeStatus(event, deps, {
    nodeName,
    podsFailed: pods.failed,
    podsDeleted: pods.deleted,
    remediatedTime: now.toISOString(),
    remediationSeconds: seconds,
    conditions,
  });
  await deps.writer.recordEvent(
    kpeRef(event),
    "Normal",
    dry ? REASONS.dryRun : REASONS.remediated,
    dry ? `Dry run: ${summary}` : summary,
  );
  countRemediation(deps, pods, dry, seconds);
  deps.log.info(dry ? "Computed remediation (dry run)" : "Remediated kernel panic", {
    name: event.metadata.name,
    node: nodeName,
    ...pods,
    nodeAction: nodeOutcome.reason,
    seconds,
  });
}

interface Outcome {
  readonly event: KernelPanicEvent;
  readonly nodeName: string;
  readonly dry: boolean;
  readonly podsMessage: string;
  readonly nodeOutcome: NodeOutcome;
  readonly summary: string;
  readonly seconds: number;
}

/** Every step's condition once remediation (or its dry run) is done. */
function finalConditions(o: Outcome): { type: string; status: "True" | "False"; reason: string; message: string }[] {
  const done = o.dry ? "False" : "True";
  return [
    {
      type: CONDITIONS.nodeResolved,
      status: "True",
      reason: REASONS.nodeFound,
      message: `Node ${o.nodeName} has ${o.event.spec.hostIP}.`,
    },
    {
      type: CONDITIONS.podsTerminated,
      status: done,
      reason: o.dry ? REASONS.dryRun : REASONS.podsFailed,
      message: o.podsMessage,
    },
    {
      type: CONDITIONS.nodeRemoved,
      status: o.nodeOutcome.removed && !o.dry ? "True" : "False",
      reason: o.dry ? REASONS.dryRun : o.nodeOutcome.reason,
      message: `${o.nodeOutcome.message}.`,
    },
    {
      type: CONDITIONS.remediated,
      status: done,
      reason: o.dry ? REASONS.dryRun : REASONS.remediated,
      message: o.dry
        ? `Dry run, nothing changed: ${o.summary}`
        : `Remediated ${o.seconds.toFixed(1)} s after the panic.`,
    },
  ];
}

function countRemediation(deps: ReconcileDeps, pods: PodOutcome, dry: boolean, seconds: number): void {
  deps.metrics.remediations.inc({ result: dry ? "dry_run" : "remediated" });
  if (dry) return;
  deps.metrics.podsFailed.inc(pods.failed);
  deps.metrics.podsDeleted.inc(pods.deleted);
  deps.metrics.detectionToRemediation.observe(seconds);
}

/** A final refusal: NodeResolved and Remediated say why; nothing is touched. */
async function refuse(
  event: KernelPanicEvent,
  deps: ReconcileDeps,
  refusal: { nodeResolved: boolean; node?: V1Node; reason: string; message: string },
): Promise<ReconcileResult> {
  const now = deps.now();
  let conditions = event.status?.conditions ?? [];
  conditions = setCondition(
    conditions,
    {
      type: CONDITIONS.nodeResolved,
      status: refusal.nodeResolved ? "True" : "False",
      reason: refusal.nodeResolved ? REASONS.nodeFound : refusal.reason,
      message: refusal.nodeResolved
        ? `Node ${refusal.node?.metadata?.name ?? ""} has ${event.spec.hostIP}.`
        : refusal.message,
    },
    now,
    event.metadata.generation,
  );
  conditions = setCondition(
    conditions,
    { type: CONDITIONS.remediated, status: "False", reason: refusal.reason, message: refusal.message },
    now,
    event.metadata.generation,
  );
  const nodeName = refusal.node?.metadata?.name;
  await writeStatus(event, deps, { ...(nodeName === undefined ? {} : { nodeName }), conditions });
  await deps.writer.recordEvent(kpeRef(event), "Warning", refusal.reason, refusal.message);
  deps.metrics.remediations.inc({ result: refusal.reason });
  deps.log.warn("Refused to remediate kernel panic", {
    name: event.metadata.name,
    reason: refusal.reason,
    detail: refusal.message,
  });
  return { requeueAfterMs: deps.options.eventTtlMs };
}

/** An intermediate state: the node is known, Remediated says what is awaited. */
async function record(
  event: KernelPanicEvent,
  deps: ReconcileDeps,
  node: V1Node,
  remediated: { reason: string; message: string; status: Condition["status"] },
): Promise<void> {
  const now = deps.now();
  const nodeName = node.metadata?.name ?? "";
  let conditions = event.status?.conditions ?? [];
  conditions = setCondition(
    conditions,
    {
      type: CONDITIONS.nodeResolved,
      status: "True",
      reason: REASONS.nodeFound,
      message: `Node ${nodeName} has ${event.spec.hostIP}.`,
    },
    now,
    event.metadata.generation,
  );
  conditions = setCondition(conditions, { type: CONDITIONS.remediated, ...remediated }, now, event.metadata.generation);
  await writeStatus(event, deps, { nodeName, conditions });
  event.status = { ...event.status, nodeName, conditions };
}

async function writeStatus(
  event: KernelPanicEvent,
  deps: ReconcileDeps,
  status: KernelPanicEventStatus,
): Promise<void> {
  const merged: KernelPanicEventStatus = { ...event.status, ...status };
  if (event.metadata.generation !== undefined) merged.observedGeneration = event.metadata.generation;
  await deps.writer.patchKernelPanicEventStatus(event.metadata.name, merged);
}

async function expireIfDue(event: KernelPanicEvent, deps: ReconcileDeps): Promise<ReconcileResult> {
  const finishedAt = Date.parse(
    getCondition(event.status, CONDITIONS.remediated)?.lastTransitionTime ?? event.metadata.creationTimestamp ?? "",
  );
  const dueInMs = finishedAt + deps.options.eventTtlMs - deps.now().getTime();
  if (Number.isNaN(dueInMs) || dueInMs > 0)
    return { requeueAfterMs: Number.isNaN(dueInMs) ? deps.options.eventTtlMs : dueInMs };
  await deps.writer.deleteKernelPanicEvent(event.metadata.name, event.metadata.uid ?? "");
  deps.log.info("Deleted expired KernelPanicEvent", { name: event.metadata.name });
  return {};
}

function kpeRef(event: KernelPanicEvent) {
  return {
    kind: "KernelPanicEvent" as const,
    apiVersion: event.apiVersion,
    name: event.metadata.name,
    ...(event.metadata.uid === undefined ? {} : { uid: event.metadata.uid }),
  };
}
