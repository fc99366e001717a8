// Final refusals: nothing is touched, NodeResolved and Remediated (and Corroborated, when it was asked) say why,
// a Warning tells whoever watches Events. A node refused as alive also counts toward its forgery hold.
import type { V1Node } from "@kubernetes/client-node";
import type { KernelPanicEvent } from "../../api/kernelpanicevent.ts";
import { ANNOTATIONS } from "../../api/keys.ts";
import type { ClusterWriter } from "../../kube/writer.ts";
import type { Logger } from "../../log.ts";
import { CONDITIONS, REASONS } from "../status/conditions.ts";
import { kpeRef, nodeFound, nodeRef, writeConditions } from "../status/event-status.ts";
import type { ForgeryGuard } from "../fleet/forgery.ts";
import type { ReconcilerMetrics } from "../metrics.ts";

/** What a refusal of a live node says it did: unless its remediation had begun before (see interrupted). */
export const NOTHING_TOUCHED = " The panic packet was forged or misattributed; nothing was touched.";

export interface RefusalDeps {
  readonly writer: Pick<ClusterWriter, "patchKernelPanicEventStatus" | "recordEvent" | "uncordonNode">;
  readonly forgery: Pick<ForgeryGuard, "heldUntil" | "refused">;
  readonly metrics: Pick<ReconcilerMetrics, "remediations" | "forgerySuspected">;
  readonly log: Logger;
  readonly options: { readonly refusedEventTtlMs: number };
  readonly now: () => Date;
}

export interface Refusal {
  readonly nodeResolved: boolean;
  readonly node?: V1Node;
  readonly reason: string;
  readonly message: string;
  /** How long until the event is looked at again (default: its refused TTL). */
  readonly requeueAfterMs?: number;
}

/** A final refusal: NodeResolved and Remediated say why; nothing is touched. */
export async function refuse(
  event: KernelPanicEvent,
  deps: RefusalDeps,
  refusal: Refusal,
): Promise<{ requeueAfterMs: number }> {
  const nodeName = refusal.node?.metadata?.name;
  await writeConditions(
    event,
    deps,
    [
      refusal.nodeResolved
        ? nodeFound(event, nodeName ?? "")
        : { type: CONDITIONS.nodeResolved, status: "False", reason: refusal.reason, message: refusal.message },
      { type: CONDITIONS.remediated, status: "False", reason: refusal.reason, message: refusal.message },
    ],
    nodeName === undefined ? {} : { nodeName },
  );
  await deps.writer.recordEvent(kpeRef(event), "Warning", refusal.reason, refusal.message);
  deps.metrics.remediations.inc({ result: refusal.reason });
  deps.log.warn("Refused to remediate kernel panic", {
    name: event.metadata.name,
    reason: refusal.reason,
    detail: refusal.message,
  });
  return { requeueAfterMs: refusal.requeueAfterMs ?? deps.options.refusedEventTtlMs };
}

/**
 * The node is alive (its Lease changed, or it answered the probe): refused, and a Warning on the Node too. When
 * this event's remediation had begun on it before a restart (the node carries its annotation), the node came
 * back in between: what was done is said, the rest left alone, and the node made schedulable again.
 */
export async function refuseAlive(
  event: KernelPanicEvent,
  node: V1Node,
  deps: RefusalDeps,
  refusal: { message: string; requeueAfterMs?: number },
): Promise<{ requeueAfterMs: number }> {
  const nodeName = node.metadata?.name ?? "";
  const ref = nodeRef(node);
  const alive = isBegunOn(event, node)
    ? { ...refusal, message: await interrupted(event, node, deps, refusal.message) }
    : refusal;
  await deps.writer.recordEvent(ref, "Warning", REASONS.nodeAlive, alive.message);
  const nowMs = deps.now().getTime();
  if (deps.forgery.refused(nodeName, nowMs, event.metadata.name)) {
    deps.metrics.forgerySuspected.inc();
    const until = new Date(deps.forgery.heldUntil(nodeName, nowMs) ?? nowMs).toISOString();
    await deps.writer.recordEvent(
      ref,
      "Warning",
      REASONS.forgedPanics,
      `Several panics about Node ${nodeName} were refused because it is alive: someone is forging them. Its further panics need approval (lastgasp.dev/approve="true") until ${until}.`,
    );
  }
  return refuse(event, deps, { nodeResolved: true, node, reason: REASONS.nodeAlive, ...alive });
}

/** This event's remediation annotated the node: it had begun there (markNode is its first write). */
function isBegunOn(event: KernelPanicEvent, node: V1Node): boolean {
  return node.metadata?.annotations?.[ANNOTATIONS.kernelPanicEvent] === event.metadata.name;
}

/** Undoes the cordon of an interrupted remediation, and says truly what it had done. */
async function interrupted(event: KernelPanicEvent, node: V1Node, deps: RefusalDeps, why: string): Promise<string> {
  const nodeName = node.metadata?.name ?? "";
  const cordoned = node.spec?.unschedulable === true;
  if (cordoned) await deps.writer.uncordonNode(nodeName);
  const counted = event.status?.podsFailed;
  const pods =
    counted === undefined
      ? `its pods annotated ${ANNOTATIONS.kernelPanicEvent}=${event.metadata.name} had been marked Failed and deleted (how many was not counted before the reconciler restarted)`
      : `${counted} of its pods had been marked Failed and ${event.status?.podsDeleted ?? 0} deleted`;
  return `${why.replace(NOTHING_TOUCHED, "")} This event's remediation had begun before the reconciler restarted: Node ${nodeName} had been annotated${cordoned ? " and cordoned (now uncordoned)" : ""}, and ${pods}. Its other pods were left alone.`;
}
