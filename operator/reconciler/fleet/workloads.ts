// The workloads of a panicked node, captured in the event's status before its pods are failed: the pods are
// deleted next, and with them the only record of what ran there. Each pod counts for its top owner, the object a
// person manages: a Deployment rather than its ReplicaSet, a CronJob rather than this run's Job.
import type { V1Pod } from "@kubernetes/client-node";
import { LIMITS, type Workload } from "../../api/kernelpanicevent.ts";
import { forEachLimit } from "../../concurrency.ts";
import type { ClusterReader } from "../../kube/reader.ts";
import { describe } from "../../kube/errors.ts";
import type { Logger } from "../../log.ts";

export type ControllerReader = Pick<ClusterReader, "getController">;

/** On every node (DaemonSet) or tied to one (a static pod's Node): being on several panicked nodes says nothing. */
const NOT_WORKLOADS = new Set(["DaemonSet", "Node"]);

interface Owned {
  kind: string;
  apiVersion: string;
  namespace: string;
  name: string;
  pods: number;
  newestPodMs: number;
}

export function workloadKey(w: { kind: string; namespace: string; name: string }): string {
  return `${w.kind}/${w.namespace}/${w.name}`;
}

/** The node's pods by top owner, most pods first (bare pods and DaemonSets left out), at most LIMITS.workloads. */
export async function workloadsOf(
  pods: readonly V1Pod[],
  reader: ControllerReader,
  options: { readonly concurrency: number; readonly log: Logger },
): Promise<Workload[]> {
  const tops = new Map<string, Owned>();
  await forEachLimit(directOwners(pods), options.concurrency, async (owned) => {
    const top = await topOwner(owned, reader, options.log);
    const known = tops.get(workloadKey(top));
    if (known === undefined) tops.set(workloadKey(top), top);
    else {
      known.pods += top.pods;
      known.newestPodMs = Math.max(known.newestPodMs, top.newestPodMs);
    }
  });
  return [...tops.values()]
    .sort((a, b) => b.pods - a.pods || workloadKey(a).localeCompare(workloadKey(b)))
    .slice(0, LIMITS.workloads)
    .map(({ newestPodMs, ...w }) => ({
      ...w,
      ...(Number.isFinite(newestPodMs) ? { newestPod: new Date(newestPodMs).toISOString() } : {}),
    }));
}

/** The pods grouped by their controller. */
function directOwners(pods: readonly V1Pod[]): Owned[] {
  const owners = new Map<string, Owned>();
  for (const pod of pods) {
    const controller = pod.metadata?.ownerReferences?.find((o) => o.controller === true);
    if (controller === undefined || NOT_WORKLOADS.has(controller.kind)) continue;
    const owned = {
      kind: controller.kind,
      apiVersion: controller.apiVersion,
      namespace: pod.metadata?.namespace ?? "",
      name: controller.name,
    };
    const stamp = pod.metadata?.creationTimestamp;
    const created = stamp === undefined ? Number.NaN : new Date(stamp).getTime();
    const known = owners.get(workloadKey(owned)) ?? { ...owned, pods: 0, newestPodMs: Number.NEGATIVE_INFINITY };
    known.pods += 1;
    if (!Number.isNaN(created)) known.newestPodMs = Math.max(known.newestPodMs, created);
    owners.set(workloadKey(owned), known);
  }
  return [...owners.values()];
}

/**
 * A ReplicaSet's Deployment, a Job's CronJob. When the controller cannot be read (gone, or not allowed), the
 * direct owner stands in: the same ReplicaSet re-creates the same workload's pods, so cascades are still seen.
 */
async function topOwner(owned: Owned, reader: ControllerReader, log: Logger): Promise<Owned> {
  if (owned.kind !== "ReplicaSet" && owned.kind !== "Job") return owned;
  try {
    const controller = await reader.getController(owned.kind, owned.namespace, owned.name);
    return controller === undefined
      ? owned
      : { ...owned, kind: controller.kind, apiVersion: controller.apiVersion, name: controller.name };
  } catch (err) {
    log.warn("Could not read a pod owner's controller; using the owner itself", {
      owner: workloadKey(owned),
      error: describe(err),
      err,
    });
    return owned;
  }
}
