// The Events that outlive the failed pods: one per owner (the ReplicaSet, StatefulSet, Job… that will replace
// them, where `kubectl describe` shows it), naming its pods, and one per bare pod. A 110-pod node of three
// workloads costs three Events instead of 110: they were a third of a remediation's requests. Best effort, and
// recorded after the node has been dealt with: the pods' status, annotations and deletion come first.
import type { KernelPanicEvent } from "../../api/kernelpanicevent.ts";
import { REASON_CODE } from "../../api/keys.ts";
import { forEachLimit } from "../../concurrency.ts";
import type { ClusterWriter, ObjectRef } from "../../kube/writer.ts";
import type { Logger } from "../../log.ts";
import type { ReconcilerMetrics } from "../metrics.ts";
import type { PodRef } from "./pods.ts";

export type PodEventWriter = Pick<ClusterWriter, "dryRun" | "recordEvent">;

/** Kubernetes caps an Event's note at 1 KiB (events.k8s.io); the list of pods is cut to fit. */
export const EVENT_MESSAGE_LIMIT = 1024;

interface PodGroup {
  readonly object: ObjectRef;
  readonly pods: PodRef[];
  readonly owned: boolean;
}

/** Reason of the Warning to an owner whose replicas were packed on the node that panicked. */
export const COLOCATED_REASON = "KernelPanicColocated";
/** Owners whose pods belong on every node (DaemonSet) or that run to completion in waves (Job): never warned. */
const NOT_REPLICAS = new Set(["DaemonSet", "Job"]);

export interface PodEventOptions {
  readonly concurrency: number;
  /** Owners with at least this many pods on the node get a co-location warning (0: never). */
  readonly colocationWarnReplicas: number;
  readonly metrics?: Pick<ReconcilerMetrics, "colocationWarnings">;
  readonly log: Logger;
}

export async function recordPodEvents(
  pods: readonly PodRef[],
  event: KernelPanicEvent,
  nodeName: string,
  writer: PodEventWriter,
  options: PodEventOptions,
): Promise<void> {
  await forEachLimit(groupByOwner(pods), options.concurrency, async (group) => {
    await recordWarning(
      writer,
      group.object,
      REASON_CODE,
      groupMessage(group, event, nodeName, writer.dryRun),
      options.log,
    );
    if (!isColocated(group, options.colocationWarnReplicas)) return;
    options.metrics?.colocationWarnings.inc();
    await recordWarning(writer, group.object, COLOCATED_REASON, colocationMessage(group, event, nodeName), options.log);
  });
}

/** A Warning that explains, recorded best effort: a failure is logged, and the remediation goes on. */
export async function recordWarning(
  writer: Pick<ClusterWriter, "recordEvent">,
  object: ObjectRef,
  reason: string,
  message: string,
  log: Logger,
): Promise<void> {
  await writer.recordEvent(object, "Warning", reason, message).catch((err: unknown) => {
    log.warn("Failed to record Event", {
      object: `${object.kind} ${object.namespace ?? ""}/${object.name}`,
      reason,
      err,
    });
  });
}

function isColocated(group: PodGroup, threshold: number): boolean {
  return threshold > 0 && group.owned && !NOT_REPLICAS.has(group.object.kind) && group.pods.length >= threshold;
}

/** Says how many replicas one node's crash took, and how to spread them (the counts are what to act on). */
function colocationMessage(group: PodGroup, event: KernelPanicEvent, nodeName: string): string {
  const count = group.pods.length;
  return (
    `${count} replicas of this ${group.object.kind} were on node ${nodeName} when its kernel panicked, so one ` +
    `node's crash took all ${count} at once. Spread them across nodes with topologySpreadConstraints ` +
    `(topologyKey kubernetes.io/hostname, maxSkew 1) or podAntiAffinity in the pod template. ` +
    `See KernelPanicEvent ${event.metadata.name}.`
  );
}

/** Pods by owner (kind, namespace, UID); a bare pod is its own group. */
export function groupByOwner(pods: readonly PodRef[]): PodGroup[] {
  const groups = new Map<string, PodGroup>();
  for (const pod of pods) {
    const owner = pod.owner;
    const key = owner === undefined ? `pod/${pod.namespace}/${pod.uid}` : `${owner.kind}/${pod.namespace}/${owner.uid}`;
    let group = groups.get(key);
    if (group === undefined) {
      const object: ObjectRef =
        owner === undefined
          ? { kind: "Pod", apiVersion: "v1", namespace: pod.namespace, name: pod.name, uid: pod.uid }
          : {
              kind: owner.kind,
              apiVersion: owner.apiVersion,
              namespace: pod.namespace,
              name: owner.name,
              uid: owner.uid,
            };
      group = { object, pods: [], owned: owner !== undefined };
      groups.set(key, group);
    }
    group.pods.push(pod);
  }
  return [...groups.values()];
}

function groupMessage(group: PodGroup, event: KernelPanicEvent, nodeName: string, dry: boolean): string {
  const [mark, remove] = dry ? ["would mark", "would delete"] : ["marked", "deleted"];
  const head = `Node ${nodeName} had a kernel panic (${event.spec.reason}); lastgasp ${mark}`;
  const tail = `See KernelPanicEvent ${event.metadata.name}.`;
  if (!group.owned) return `${head} the pod Failed and ${remove} it. ${tail}`;
  const count = group.pods.length;
  const lead = `${head} ${count} ${count === 1 ? "pod" : "pods"} of this ${group.object.kind} Failed and ${remove} ${count === 1 ? "it" : "them"}: `;
  return `${lead}${nameList(group.pods, EVENT_MESSAGE_LIMIT - lead.length - tail.length - 2)}. ${tail}`;
}

/** The pod names, as many as fit in `room` characters, then how many more. */
function nameList(pods: readonly PodRef[], room: number): string {
  const names = pods.map((p) => p.name);
  const all = names.join(", ");
  if (all.length <= room) return all;
  let shown = 0;
  let length = 0;
  const more = (left: number) => `, … and ${left} more`;
  while (shown < names.length) {
    const next = length + (shown === 0 ? 0 : 2) + names[shown]!.length;
    if (next + more(names.length - shown - 1).length > room) break;
    length = next;
    shown++;
  }
  if (shown === 0) return `${names.length} pods (names too long to list)`;
  return `${names.slice(0, shown).join(", ")}${more(names.length - shown)}`;
}
