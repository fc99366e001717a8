// The pods a remediation acts on, written into the event's status before any of them is deleted: the pod's own
// annotations go with it and its owner's Event expires within the hour, the KernelPanicEvent stays. Merged by UID
// with what an interrupted pass recorded, so a restart adds no pod twice and loses none it had deleted; bounded at
// LIMITS.pods entries, the rest counted. Each namespace gets its own readable copy after the pods (impacts.ts).
import type { V1Pod } from "@kubernetes/client-node";
import {
  LIMITS,
  type KernelPanicEvent,
  type KernelPanicEventStatus,
  type PodRecord,
} from "../../api/kernelpanicevent.ts";
import type { ClusterWriter } from "../../kube/writer.ts";
import { writeFields } from "../status/event-status.ts";
import { onlyAnnotated, podRef } from "./pods.ts";

/** What recording the pods needs. */
export interface PodRecordDeps {
  readonly writer: Pick<ClusterWriter, "patchKernelPanicEventStatus">;
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
      action: onlyAnnotated(pod) ? "Annotated" : "Failed",
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
 * Writes the merged records when they add anything (idempotent: a pass that adds nothing writes nothing); resolves
 * to the pods now on record.
 */
export async function recordPods(
  event: KernelPanicEvent,
  pods: readonly V1Pod[],
  deps: PodRecordDeps,
): Promise<PodRecord[]> {
  const merged = mergeRecords(event.status, plannedRecords(pods));
  const unchanged =
    merged.pods.length === (event.status?.pods?.length ?? 0) &&
    merged.podsNotListed === (event.status?.podsNotListed ?? 0);
  if (!unchanged) await writeFields(event, deps, merged);
  return merged.pods;
}
