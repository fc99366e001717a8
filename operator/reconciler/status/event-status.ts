// The KernelPanicEvent's status as reconcile writes it: merged onto what is there, the generation observed, the
// node's condition worded the same wherever it was found.
import type { V1Node } from "@kubernetes/client-node";
import type { Condition, KernelPanicEvent, KernelPanicEventStatus } from "../../api/kernelpanicevent.ts";
import type { ClusterWriter } from "../../kube/writer.ts";
import { CONDITIONS, REASONS, setCondition } from "./conditions.ts";

export interface StatusDeps {
  readonly writer: Pick<ClusterWriter, "patchKernelPanicEventStatus">;
  readonly now: () => Date;
}

/**
 * An intermediate state: the node is known, Remediated says what is awaited. Returns the event as written; the
 * event passed in is left as it was.
 */
export async function record(
  event: KernelPanicEvent,
  deps: StatusDeps,
  node: V1Node,
  remediated: { reason: string; message: string; status: Condition["status"] },
  captured: KernelPanicEventStatus = {},
): Promise<KernelPanicEvent> {
  const now = deps.now();
  const nodeName = node.metadata?.name ?? "";
  let conditions = setCondition(
    event.status?.conditions ?? [],
    nodeFound(event, nodeName),
    now,
    event.metadata.generation,
  );
  conditions = setCondition(conditions, { type: CONDITIONS.remediated, ...remediated }, now, event.metadata.generation);
  const status = await writeStatus(event, deps, { ...captured, nodeName, conditions });
  return { ...event, status };
}

/** NodeResolved once the node is known: the same words wherever the node was found. */
export function nodeFound(event: KernelPanicEvent, nodeName: string) {
  return {
    type: CONDITIONS.nodeResolved,
    status: "True" as const,
    reason: REASONS.nodeFound,
    message: `Node ${nodeName} has ${event.spec.hostIP}.`,
  };
}

export async function writeStatus(
  event: KernelPanicEvent,
  deps: StatusDeps,
  status: KernelPanicEventStatus,
): Promise<KernelPanicEventStatus> {
  const merged: KernelPanicEventStatus = { ...event.status, ...status };
  if (event.metadata.generation !== undefined) merged.observedGeneration = event.metadata.generation;
  await deps.writer.patchKernelPanicEventStatus(event.metadata.name, merged);
  return merged;
}

export function kpeRef(event: KernelPanicEvent) {
  return {
    kind: "KernelPanicEvent" as const,
    apiVersion: event.apiVersion,
    name: event.metadata.name,
    ...(event.metadata.uid === undefined ? {} : { uid: event.metadata.uid }),
  };
}

export function nodeRef(node: V1Node) {
  return {
    kind: "Node" as const,
    apiVersion: "v1",
    name: node.metadata?.name ?? "",
    ...(node.metadata?.uid === undefined ? {} : { uid: node.metadata.uid }),
  };
}
