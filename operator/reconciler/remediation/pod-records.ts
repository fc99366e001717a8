// The pods a remediation acts on, written into the event's status before any of them is deleted: the pod's own
// annotations go with it and its owner's Event expires within the hour, the KernelPanicEvent stays (`lastgasp
// why` reads it). Merged by UID with what an interrupted pass recorded, so a restart adds no pod twice and loses
// none it had deleted; bounded at LIMITS.pods entries, the rest counted. The event is also labelled with the
// namespaces of its pods, so that finding a namespace's pods selects its events instead of listing them all.
import type { V1Pod } from "@kubernetes/client-node";
import {
  LIMITS,
  type KernelPanicEvent,
  type KernelPanicEventStatus,
  type PodRecord,
} from "../../api/kernelpanicevent.ts";
import { LABELS, NAMESPACE_LABEL_PREFIX, NAMESPACE_LABELS } from "../../api/keys.ts";
import type { ClusterWriter } from "../../kube/writer.ts";
import { hasOurCondition, isTerminal, podRef } from "./pods.ts";

/** What recording the pods needs. */
export interface PodRecordDeps {
  readonly writer: Pick<ClusterWriter, "patchKernelPanicEventStatus" | "labelKernelPanicEvent">;
}

/** What lastgasp does to each of `pods` (terminatePods' rule): a finished pod is only annotated. */
export function plannedRecords(pods: readonly V1Pod[]): PodRecord[] {
  return pods.map((pod) => {
    const ref = podRef(pod);
    return {
      namespace: ref.namespace,
      name: ref.name,
      uid: ref.uid,
      ...(ref.owner === undefined ? {} : { owner: { kind: ref.owner.kind, name: ref.owner.name } }),
      action: isTerminal(pod) && !hasOurCondition(pod) ? "Annotated" : "Failed",
    };
  });
}

/** `known` with the pods of `planned` it lacks, by UID, at most LIMITS.pods listed; the rest counted. */
export function mergeRecords(
  known: Pick<KernelPanicEventStatus, "pods" | "podsNotListed"> | undefined,
  planned: readonly PodRecord[],
): Required<Pick<KernelPanicEventStatus, "pods" | "podsNotListed">> {
  const byUid = new Map((known?.pods ?? []).map((p) => [p.uid, p]));
  let beyond = 0;
  for (const record of planned) {
    if (byUid.has(record.uid)) continue;
    if (byUid.size < LIMITS.pods) byUid.set(record.uid, record);
    else beyond++;
  }
  // A pod beyond the list is in no entry to recognise it by: a pass after an interruption meets again only the
  // pods not yet deleted, a subset of the first pass's, so the larger count is the one to keep.
  return { pods: [...byUid.values()], podsNotListed: Math.max(known?.podsNotListed ?? 0, beyond) };
}

/**
 * Writes the merged records and the namespace labels when they add anything (idempotent: a pass that adds nothing
 * writes nothing). Both at once: neither waits for the other.
 */
export async function recordPods(event: KernelPanicEvent, pods: readonly V1Pod[], deps: PodRecordDeps): Promise<void> {
  const merged = mergeRecords(event.status, plannedRecords(pods));
  const unchanged =
    merged.pods.length === (event.status?.pods?.length ?? 0) &&
    merged.podsNotListed === (event.status?.podsNotListed ?? 0);
  const labels = missingLabels(event, namespaceLabels(pods.map((p) => p.metadata?.namespace ?? "")));
  await Promise.all([
    unchanged ? undefined : deps.writer.patchKernelPanicEventStatus(event.metadata.name, merged),
    Object.keys(labels).length === 0 ? undefined : deps.writer.labelKernelPanicEvent(event.metadata.name, labels),
  ]);
}

/** One label per namespace, at most NAMESPACE_LABELS; past them the event says it has more (LABELS.manyNamespaces). */
export function namespaceLabels(namespaces: readonly string[]): Record<string, string> {
  const distinct = [...new Set(namespaces.filter((n) => n !== ""))].sort();
  const labels = Object.fromEntries(
    distinct.slice(0, NAMESPACE_LABELS).map((n) => [`${NAMESPACE_LABEL_PREFIX}${n}`, "true"]),
  );
  return distinct.length > NAMESPACE_LABELS ? { ...labels, [LABELS.manyNamespaces]: "true" } : labels;
}

function missingLabels(event: KernelPanicEvent, wanted: Record<string, string>): Record<string, string> {
  const have = event.metadata.labels ?? {};
  const own = Object.keys(have).filter((k) => k.startsWith(NAMESPACE_LABEL_PREFIX)).length;
  const missing = Object.entries(wanted).filter(([k, v]) => have[k] !== v);
  // A resumed pass never labels past the limit what the first pass left unlabelled.
  const room = Math.max(0, NAMESPACE_LABELS - own);
  const namespaces = missing.filter(([k]) => k.startsWith(NAMESPACE_LABEL_PREFIX));
  const other = missing.filter(([k]) => !k.startsWith(NAMESPACE_LABEL_PREFIX));
  const overflow: [string, string][] = namespaces.length > room ? [[LABELS.manyNamespaces, "true"]] : [];
  return Object.fromEntries([...namespaces.slice(0, room), ...other, ...overflow]);
}
