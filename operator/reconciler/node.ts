// The panicked node itself: annotated like its pods, then the configured action. `delete` (the seed design's
// default; UID precondition), `taint` with node.kubernetes.io/out-of-service (non-graceful shutdown: Kubernetes
// force-deletes what is left and detaches volumes; the Node stays for the reboot), or `none`.
import type { V1Node } from "@kubernetes/client-node";
import type { KernelPanicEvent } from "../api/kernelpanicevent.ts";
import { ANNOTATIONS, OUT_OF_SERVICE_TAINT, REASON_CODE } from "../api/keys.ts";
import type { ClusterWriter } from "../kube/writer.ts";
import { terminationAnnotations } from "./annotations.ts";
import { REASONS } from "./conditions.ts";

export type NodeAction = "delete" | "taint" | "none";

export interface NodeOutcome {
  /** NodeRemoved condition: True when the node is gone. */
  readonly removed: boolean;
  readonly reason: string;
  readonly message: string;
}

export async function handleNode(
  node: V1Node,
  event: KernelPanicEvent,
  action: NodeAction,
  writer: ClusterWriter,
): Promise<NodeOutcome> {
  const name = node.metadata?.name ?? "";
  const would = writer.dryRun ? "Would have " : "";
  if (node.metadata?.annotations?.[ANNOTATIONS.kernelPanicEvent] !== event.metadata.name) {
    await writer.annotateNode(name, terminationAnnotations(event, name));
  }
  const outcome = await act(node, action, writer);
  await writer.recordEvent(
    { kind: "Node", apiVersion: "v1", name, ...(node.metadata?.uid === undefined ? {} : { uid: node.metadata.uid }) },
    "Warning",
    REASON_CODE,
    `Kernel panic: ${event.spec.reason}. ${would}${outcome.message} (KernelPanicEvent ${event.metadata.name}).`,
  );
  return { ...outcome, message: `${would}${outcome.message}` };
}

async function act(node: V1Node, action: NodeAction, writer: ClusterWriter): Promise<NodeOutcome> {
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
      message: `Node ${name} was replaced by a new object; left it alone`,
    };
  if (result === "gone")
    return { removed: true, reason: REASONS.nodeAlreadyGone, message: `Node ${name} was already gone` };
  return { removed: true, reason: REASONS.nodeDeleted, message: `deleted Node ${name}` };
}
