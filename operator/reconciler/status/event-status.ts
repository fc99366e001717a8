// The KernelPanicEvent's status as reconcile writes it, in one place: every write is condition updates (each stamped
// now, at the event's generation) plus fields, merged onto what is there, the generation observed. The node's
// condition is worded the same wherever it was found. Nothing else in reconciler/ writes an event's status.
import type { V1Node } from "@kubernetes/client-node";
import type { Condition, KernelPanicEvent, KernelPanicEventStatus } from "../../api/kernelpanicevent.ts";
import type { ClusterWriter } from "../../kube/writer.ts";
import { CONDITIONS, REASONS, setCondition, type ConditionUpdate } from "./conditions.ts";

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
  const nodeName = node.metadata?.name ?? "";
  return writeConditions(event, deps, [nodeFound(event, nodeName), { type: CONDITIONS.remediated, ...remediated }], {
    ...captured,
    nodeName,
  });
}

/** The event with `updates` applied to its conditions in memory (the next write carries them). */
export function withConditions(
  event: KernelPanicEvent,
  now: Date,
  updates: readonly ConditionUpdate[],
): KernelPanicEvent {
  const conditions = updates.reduce(
    (list, update) => setCondition(list, update, now, event.metadata.generation),
    event.status?.conditions ?? [],
  );
  return { ...event, status: { ...event.status, conditions } };
}

/**
 * The one status write: `updates` applied to the event's conditions, `fields` beside them. Returns the event as
 * written; the event passed in is left as it was.
 */
export async function writeConditions(
  event: KernelPanicEvent,
  deps: StatusDeps,
  updates: readonly ConditionUpdate[],
  fields: Omit<KernelPanicEventStatus, "conditions"> = {},
): Promise<KernelPanicEvent> {
  const conditions = withConditions(event, deps.now(), updates).status?.conditions ?? [];
  const status = await writeStatus(event, deps, { ...fields, conditions });
  return { ...event, status };
}

/** Fields beside the conditions, written alone: the pods' record, before any pod is deleted (pod-records.ts). */
export async function writeFields(
  event: KernelPanicEvent,
  deps: Pick<StatusDeps, "writer">,
  fields: Omit<KernelPanicEventStatus, "conditions">,
): Promise<void> {
  await deps.writer.patchKernelPanicEventStatus(event.metadata.name, fields);
}

/** Notes on an event that the node's pstore or kdump kept the same panic (recovered.ts); idempotent. */
export async function confirmedBy(
  event: KernelPanicEvent,
  deps: StatusDeps,
  source: NonNullable<KernelPanicEventStatus["confirmedBy"]>[number],
): Promise<void> {
  const known = event.status?.confirmedBy ?? [];
  if (known.includes(source)) return;
  await deps.writer.patchKernelPanicEventStatus(event.metadata.name, { confirmedBy: [...known, source].sort() });
}

/** NodeResolved once the node is known: the same words wherever the node was found. */
export function nodeFound(event: KernelPanicEvent, nodeName: string): ConditionUpdate {
  return {
    type: CONDITIONS.nodeResolved,
    status: "True" as const,
    reason: REASONS.nodeFound,
    message: `Node ${nodeName} has ${event.spec.hostIP}.`,
  };
}

async function writeStatus(
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
