// The panicked node itself: annotated like its pods, then the configured action. `delete` (the seed design's
// default; UID precondition), `taint` with node.kubernetes.io/out-of-service (non-graceful shutdown: Kubernetes
// force-deletes what is left and detaches volumes; the Node stays for the reboot), or `none`.
import type { V1Node } from "@kubernetes/client-node";
import type { KernelPanicEvent } from "../../api/kernelpanicevent.ts";
import { ANNOTATIONS, NODE_CONDITION, OUT_OF_SERVICE_TAINT, REASON_CODE } from "../../api/keys.ts";
import type { ClusterWriter } from "../../kube/writer.ts";
import { terminationAnnotations } from "./annotations.ts";
import { REASONS } from "../status/conditions.ts";

/** What a node action writes. */
export type NodeWriter = Pick<
  ClusterWriter,
  "dryRun" | "annotateNode" | "recordEvent" | "addNodeTaint" | "deleteNode" | "setNodeCondition"
>;

export type NodeAction = "delete" | "taint" | "none";

export interface NodeOutcome {
  /** NodeRemoved condition: True when the node is gone. */
  readonly removed: boolean;
  readonly reason: string;
  readonly message: string;
}

/**
 * First of all (a dead node still looks Ready for ~50 s, and the scheduler would put replacements right back):
 * annotated like its pods and, unless the action is none, cordoned, in one request; nothing when already done.
 */
export async function markNode(
  node: V1Node,
  event: KernelPanicEvent,
  action: NodeAction,
  writer: Pick<NodeWriter, "annotateNode">,
): Promise<void> {
  const name = node.metadata?.name ?? "";
  const annotated = node.metadata?.annotations?.[ANNOTATIONS.kernelPanicEvent] === event.metadata.name;
  const cordon = action !== "none" && node.spec?.unschedulable !== true;
  if (!annotated || cordon) await writer.annotateNode(name, terminationAnnotations(event, name), { cordon });
}

/** The configured action on the node, once its pods are dealt with, and its Event. */
export async function handleNode(
  node: V1Node,
  event: KernelPanicEvent,
  action: NodeAction,
  writer: NodeWriter,
  now: () => Date,
): Promise<NodeOutcome> {
  const name = node.metadata?.name ?? "";
  const acted = await act(node, action, writer);
  if (action !== "delete") await handOver(node, event, writer, now);
  // Messages read as sentences: "Deleted Node x", or in a dry run "Would have deleted Node x".
  const outcome = {
    ...acted,
    message: writer.dryRun
      ? `Would have ${acted.message}`
      : `${acted.message.charAt(0).toUpperCase()}${acted.message.slice(1)}`,
  };
  await writer.recordEvent(
    { kind: "Node", apiVersion: "v1", name, ...(node.metadata?.uid === undefined ? {} : { uid: node.metadata.uid }) },
    "Warning",
    REASON_CODE,
    `Kernel panic: ${event.spec.reason}. ${outcome.message} (KernelPanicEvent ${event.metadata.name}).`,
  );
  return outcome;
}

async function act(node: V1Node, action: NodeAction, writer: NodeWriter): Promise<NodeOutcome> {
  const name = node.metadata?.name ?? "";
  if (action === "none")
    return { removed: false, reason: REASONS.nodeKept, message: `annotated Node ${name}; node action is none` };
  if (action === "taint") {
    await writer.addNodeTaint(name, { ...OUT_OF_SERVICE_TAINT });
    return {
      removed: false,
      reason: REASONS.nodeTainted,
      message: `tainted Node ${name} ${OUT_OF_SERVICE_TAINT.key}=${OUT_OF_SERVICE_TAINT.value}:${OUT_OF_SERVICE_TAINT.effect}`,
    };
  }
  const result = await writer.deleteNode(name, node.metadata?.uid ?? "");
  if (result === "replaced")
    return {
      removed: false,
      reason: REASONS.nodeReplaced,
      message: `found Node ${name} replaced by a new object, and left it alone`,
    };
  if (result === "gone")
    return { removed: true, reason: REASONS.nodeAlreadyGone, message: `found Node ${name} already gone` };
  return { removed: true, reason: REASONS.nodeDeleted, message: `deleted Node ${name}` };
}

/**
 * A kept Node tells repair systems why it is broken: condition KernelPanic=True naming the event. Written once:
 * a condition already True for this event is left as it is (its transition time is when the panic was seen).
 */
async function handOver(
  node: V1Node,
  event: KernelPanicEvent,
  writer: Pick<NodeWriter, "setNodeCondition">,
  now: () => Date,
): Promise<void> {
  const current = node.status?.conditions?.find((c) => c.type === NODE_CONDITION);
  const message = `Kernel panic: ${event.spec.reason} (KernelPanicEvent ${event.metadata.name})`;
  if (current?.status === "True" && current.message === message) return;
  const at = now().toISOString();
  await writer.setNodeCondition(node.metadata?.name ?? "", {
    type: NODE_CONDITION,
    status: "True",
    reason: REASON_CODE,
    message,
    lastTransitionTime: at,
    lastHeartbeatTime: at,
  });
}
