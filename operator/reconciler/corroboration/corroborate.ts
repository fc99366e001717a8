// Is the node really dead? A panic packet is unauthenticated UDP: before anything is touched, evidence from the
// reconciler's own observations must agree. First the probe (node-probes.ts, a fraction of a second): a node that
// answers is alive and the event is refused at once; a node that answered the baseline and now gives no answer at
// all, while other nodes answer, is dead only when the panic also continued the node's own netconsole stream
// (stream-verdict.ts): silence alone is what anyone who can drop packets for a moment can make. A node whose kernel went
// on sending its stream after the panic (stream-verdict.ts, outlivedPanic) is alive, refused before anything else. When the probe cannot tell (no baseline, an error, silent
// controls) the Lease decides (lease-liveness.ts, a renewal interval). An answer never hides a panic by itself: the
// Lease is still watched after a refusal for an answer, and a Lease that stopped overrules the answer (someone
// on the path answered for a dead node). The evidence used is the Corroborated condition.
import type { V1Node } from "@kubernetes/client-node";
import type { Condition, KernelPanicEvent } from "../../api/kernelpanicevent.ts";
import type { ClusterReader } from "../../kube/reader.ts";
import { CONDITIONS, REASONS, getCondition } from "../status/conditions.ts";
import { kpeRef, record, withConditions, writeConditions } from "../status/event-status.ts";
import type { LivenessVerdict, LivenessWatch } from "./lease-liveness.ts";
import type { ReconcilerMetrics } from "../metrics.ts";
import { probeTarget, sameEndpoint, type NodeProbes, type ProbeTarget, type ProbeVerdict } from "./node-probes.ts";
import { NOTHING_TOUCHED, refuse, refuseAlive, type RefusalDeps } from "../remediation/refusals.ts";
import { outlivedPanic, streamVerdict } from "./stream-verdict.ts";

export interface CorroborationDeps extends RefusalDeps {
  readonly reader: Pick<ClusterReader, "getNodeLease">;
  readonly liveness: Pick<LivenessWatch, "observe" | "forget">;
  /** Undefined when the probe is off. */
  readonly probes: Pick<NodeProbes, "corroborate" | "targetAt"> | undefined;
  readonly metrics: RefusalDeps["metrics"] & Pick<ReconcilerMetrics, "corroborations">;
  readonly options: RefusalDeps["options"] & { readonly leaseCheck: boolean; readonly addressTypes: readonly string[] };
}

/** Go on with the event (its Corroborated condition set, not yet written), or stop here with this result. */
export type Corroboration =
  { readonly proceed: KernelPanicEvent } | { readonly stop: { readonly requeueAfterMs?: number } };

type Evidence = Pick<Condition, "status" | "reason" | "message">;

export async function corroborate(
  event: KernelPanicEvent,
  node: V1Node,
  deps: CorroborationDeps,
  early?: EarlyProbe,
): Promise<Corroboration> {
  if (!deps.options.leaseCheck)
    return proceed(event, deps, {
      status: "False",
      reason: REASONS.corroborationDisabled,
      message: "The lease check is off: the panic was acted on without corroboration.",
    });
  const outlived = outlivedPanic(event, node);
  if (outlived !== undefined) return refuseOutlived(event, node, deps, outlived);
  if (isConfirmingAnswer(event)) return confirmAnswer(event, node, deps);
  const probe = await probeOnce(event, node, deps, early);
  if (probe?.kind === "answered") return refuseAnswered(event, node, probe, deps);
  if (probe?.kind !== "silent") return watchLease(event, node, deps, probe?.why);
  // Silence alone is what anyone who can drop packets for a moment can make: it counts only beside the node's
  // own stream, which an off-path forger cannot continue.
  const stream = streamVerdict(event, node);
  if (!stream.continuous)
    return watchLease(
      event,
      node,
      deps,
      `its kubelet port gave no answer, but silence alone is not enough: ${stream.why}`,
    );
  return proceed(event, deps, {
    status: "True",
    reason: REASONS.probeSilent,
    message: `${stream.summary} ${probe.target.address}:${probe.target.port} (Node ${probe.target.node}'s kubelet port) answered the reconciler's probes before the panic and gave no answer at all after it, while ${probe.controls.length === 0 ? "no other node was asked" : `Nodes ${probe.controls.join(", ")} answered`}.`,
  });
}

/** The node's kernel went on after the panic (its stream did not stop): alive, refused now, whatever else says. */
async function refuseOutlived(
  event: KernelPanicEvent,
  node: V1Node,
  deps: CorroborationDeps,
  outlived: string,
): Promise<Corroboration> {
  deps.liveness.forget(event.metadata.name);
  const marked = withEvidence(event, deps, { status: "False", reason: REASONS.streamAfterPanic, message: outlived });
  return { stop: await refuseAlive(marked, node, deps, { message: `${outlived}${NOTHING_TOUCHED}` }) };
}

/** A probe round started as soon as the event was read, before its node was looked up. */
export interface EarlyProbe {
  readonly target: ProbeTarget;
  readonly verdict: Promise<ProbeVerdict>;
}

/**
 * Starts the probe of the node with the event's address, if the probe has a baseline for one: its window then
 * runs while the nodes are listed and the node resolved (a list of thousands of nodes takes about as long).
 * Undefined when the probe will not be asked about this event (see probeOnce).
 */
export function startProbe(event: KernelPanicEvent, deps: CorroborationDeps): EarlyProbe | undefined {
  if (deps.probes === undefined || !deps.options.leaseCheck || !probeMayDecide(event)) return undefined;
  const target = deps.probes.targetAt(event.spec.hostIP);
  return target === undefined ? undefined : { target, verdict: deps.probes.corroborate(target) };
}

/** Once the Lease is being watched the probe has spoken: asking again would only add its window to each look. */
function probeMayDecide(event: KernelPanicEvent): boolean {
  return (
    !isConfirmingAnswer(event) && getCondition(event.status, CONDITIONS.remediated)?.reason !== REASONS.waitingForLease
  );
}

/** The probe's verdict (the early round's when it probed this node); undefined when the probe is off or had its say. */
async function probeOnce(
  event: KernelPanicEvent,
  node: V1Node,
  deps: CorroborationDeps,
  early: EarlyProbe | undefined,
): Promise<ProbeVerdict | undefined> {
  if (deps.probes === undefined || !probeMayDecide(event)) return undefined;
  const target = probeTarget(node, deps.options.addressTypes);
  if (target === undefined)
    return {
      kind: "noBaseline",
      why: `Node ${node.metadata?.name ?? ""} has no IP address of types ${deps.options.addressTypes.join(", ")} with a kubelet port in its status`,
    };
  if (early !== undefined && sameEndpoint(early.target, target) && early.target.node === target.node)
    return early.verdict;
  return deps.probes.corroborate(target);
}

/** It answered: alive, refused now. The Lease watch starts too, to overrule an answer that was not the node's. */
async function refuseAnswered(
  event: KernelPanicEvent,
  node: V1Node,
  probe: Extract<ProbeVerdict, { kind: "answered" }>,
  deps: CorroborationDeps,
): Promise<Corroboration> {
  const nodeName = node.metadata?.name ?? "";
  const lease = await deps.reader.getNodeLease(nodeName);
  const verdict = deps.liveness.observe(event.metadata.name, lease);
  const how = probe.outcome === "connected" ? "accepted" : "refused (a reset from its TCP stack)";
  const confirming = verdict.kind === "watching";
  const message = `Node ${nodeName} ${how} the reconciler's TCP connect to ${probe.target.address}:${probe.target.port} after the panic was reported: its kernel is running.${NOTHING_TOUCHED}${confirming ? ` Its Lease is watched for ${Math.ceil(verdict.remainingMs / 1000)} s more to confirm.` : ""}`;
  const marked = withEvidence(
    event,
    deps,
    confirming
      ? { status: "Unknown", reason: REASONS.probeAnswered, message: "Answered the probe; confirming with the Lease." }
      : leaseMissing(nodeName),
  );
  return {
    stop: await refuseAlive(marked, node, deps, {
      message,
      ...(confirming ? { requeueAfterMs: verdict.remainingMs } : {}),
    }),
  };
}

/** Refused because it answered: the Lease now confirms the refusal, or overrules it. */
export function isConfirmingAnswer(event: KernelPanicEvent): boolean {
  const evidence = getCondition(event.status, CONDITIONS.corroborated);
  return evidence?.reason === REASONS.probeAnswered && evidence.status === "Unknown";
}

/** The node that answered is gone before its Lease could confirm the refusal: the refusal stands as it is. */
export async function endConfirmation(event: KernelPanicEvent, deps: CorroborationDeps, why: string): Promise<void> {
  deps.liveness.forget(event.metadata.name);
  await writeEvidence(event, deps, {
    status: "False",
    reason: REASONS.nodeNotFound,
    message: `Answered the probe; not confirmed by the Lease: ${why}`,
  });
}

async function confirmAnswer(event: KernelPanicEvent, node: V1Node, deps: CorroborationDeps): Promise<Corroboration> {
  const nodeName = node.metadata?.name ?? "";
  const verdict = deps.liveness.observe(event.metadata.name, await deps.reader.getNodeLease(nodeName));
  if (verdict.kind === "watching") return { stop: { requeueAfterMs: verdict.remainingMs } };
  if (verdict.kind !== "dead") {
    await writeEvidence(event, deps, aliveEvidence(nodeName, verdict));
    return { stop: { requeueAfterMs: deps.options.refusedEventTtlMs } };
  }
  const message = `Node ${nodeName} answered the reconciler's probe after the panic, yet its Lease did not change for ${Math.round(verdict.watchedMs / 1000)} s: the answer did not come from its kubelet's node. Something on the path answers for it; the Lease overrules the answer and the node is remediated.`;
  deps.log.warn("A node that answered the probe has a stale Lease; remediating", {
    name: event.metadata.name,
    node: nodeName,
  });
  await deps.writer.recordEvent(kpeRef(event), "Warning", REASONS.probeContradicted, message);
  return proceed(event, deps, { status: "True", reason: REASONS.leaseStale, message });
}

/**
 * Dead = the node's Lease did not change at all while the reconciler watched it for a full renewal interval
 * (lease-liveness.ts). `probeWhy` says why the probe could not tell, for the waiting message.
 */
async function watchLease(
  event: KernelPanicEvent,
  node: V1Node,
  deps: CorroborationDeps,
  probeWhy: string | undefined,
): Promise<Corroboration> {
  const nodeName = node.metadata?.name ?? "";
  const verdict = deps.liveness.observe(event.metadata.name, await deps.reader.getNodeLease(nodeName));
  switch (verdict.kind) {
    case "dead":
      deps.log.info("Confirmed node is dead: its Lease did not change", {
        name: event.metadata.name,
        node: nodeName,
        watchedSeconds: verdict.watchedMs / 1000,
        renewTime: verdict.snapshot.renewTime,
      });
      return proceed(event, deps, {
        status: "True",
        reason: REASONS.leaseStale,
        message: `Node ${nodeName}'s Lease did not change while the reconciler watched it for ${Math.round(verdict.watchedMs / 1000)} s (a full renewal interval).`,
      });
    case "watching": {
      const why = probeWhy === undefined ? "" : ` The probe could not tell: ${probeWhy}.`;
      const message = `Watching Node ${nodeName}'s Lease (resourceVersion ${verdict.snapshot.resourceVersion}, last renewed ${verdict.snapshot.renewTime ?? "never"} by its kubelet's clock) for ${Math.ceil(verdict.remainingMs / 1000)} s more: a live kubelet renews it within that time.${why}`;
      if (verdict.first || getCondition(event.status, CONDITIONS.remediated)?.reason !== REASONS.waitingForLease)
        await record(event, deps, node, { reason: REASONS.waitingForLease, message, status: "False" });
      return { stop: { requeueAfterMs: verdict.remainingMs } };
    }
    case "noLease":
      return {
        stop: await refuse(withEvidence(event, deps, leaseMissing(nodeName)), deps, {
          nodeResolved: true,
          node,
          reason: REASONS.noNodeLease,
          message: `Node ${nodeName} has no Lease in kube-node-lease, so nothing proves that its kubelet stopped; nothing was touched. Turn the lease check off to act on such nodes.`,
        }),
      };
    case "alive": {
      const message = `Node ${nodeName}'s Lease changed while it was watched (resourceVersion ${verdict.before.resourceVersion} → ${verdict.after.resourceVersion}, renewed ${verdict.after.renewTime ?? "?"}): the node is alive.${NOTHING_TOUCHED}`;
      return {
        stop: await refuseAlive(withEvidence(event, deps, aliveEvidence(nodeName, verdict)), node, deps, { message }),
      };
    }
  }
}

function aliveEvidence(nodeName: string, verdict: Exclude<LivenessVerdict, { kind: "dead" | "watching" }>): Evidence {
  if (verdict.kind === "noLease") return leaseMissing(nodeName);
  return {
    status: "False",
    reason: REASONS.leaseRenewed,
    message: `Node ${nodeName}'s Lease changed while it was watched (resourceVersion ${verdict.before.resourceVersion} → ${verdict.after.resourceVersion}).`,
  };
}

function leaseMissing(nodeName: string): Evidence {
  return { status: "False", reason: REASONS.noNodeLease, message: `Node ${nodeName} has no Lease to confirm with.` };
}

function proceed(event: KernelPanicEvent, deps: CorroborationDeps, evidence: Evidence): Corroboration {
  return { proceed: withEvidence(event, deps, evidence) };
}

/** A refused event's last word on the evidence: its Corroborated condition alone, written now. */
async function writeEvidence(event: KernelPanicEvent, deps: CorroborationDeps, evidence: Evidence): Promise<void> {
  await writeConditions(withEvidence(event, deps, evidence), deps, []);
}

/** The event with its Corroborated condition set in memory (the next status write carries it), counted. */
function withEvidence(event: KernelPanicEvent, deps: CorroborationDeps, evidence: Evidence): KernelPanicEvent {
  deps.metrics.corroborations.inc({ evidence: evidence.reason });
  return withConditions(event, deps.now(), [{ type: CONDITIONS.corroborated, ...evidence }]);
}
