// The pods of a panicked node, failed the way Kubernetes' PodGC fails orphaned pods: status phase Failed with a
// DisruptionTarget condition (so Job podFailurePolicy can retry without counting a failure), annotated with the
// reason, then deleted at once with a UID precondition. Pods that had already finished are only annotated.
// Re-running is safe: pods this event already failed are recognised by their condition and only deleted.
import type { V1Pod } from "@kubernetes/client-node";
import type { KernelPanicEvent } from "../../api/kernelpanicevent.ts";
import { ANNOTATIONS, DISRUPTION_TARGET, REASON_CODE } from "../../api/keys.ts";
import { forEachLimit } from "../../concurrency.ts";
import type { ClusterWriter } from "../../kube/writer.ts";
import type { Logger } from "../../log.ts";
import { terminationAnnotations } from "./annotations.ts";

/** What failing pods writes. */
export type PodWriter = Pick<ClusterWriter, "dryRun" | "failPod" | "annotatePod" | "deletePod">;

export interface PodOptions {
  readonly concurrency: number;
  readonly log: Logger;
  /** The reconciler's clock: the DisruptionTarget condition's lastTransitionTime. */
  readonly now: () => Date;
  /** What earlier passes of this remediation did: this pass adds to it. */
  readonly outcome?: PodOutcome;
  /**
   * Settles once the pods are recorded in the event's status (pod-records.ts): no pod is deleted before, so a
   * restart never leaves a deleted pod unexplained. Failing them need not wait.
   */
  readonly recorded?: Promise<unknown>;
}

/**
 * What failing a node's pods did, by pod UID: a pass interrupted (an API outage) and the next one add to the same
 * outcome (see progress.ts), so every pod is counted once however many passes it took.
 */
export interface PodOutcome {
  readonly failed: Set<string>;
  readonly deleted: Set<string>;
  readonly annotatedOnly: Set<string>;
  /** Of the deleted: already replaced by their controller under the same name (the replacement left alone). */
  readonly replaced: Set<string>;
  /** The pods failed and deleted, for their Events (see pod-events.ts), by UID. */
  readonly terminated: Map<string, PodRef>;
}

export function emptyOutcome(): PodOutcome {
  return {
    failed: new Set(),
    deleted: new Set(),
    annotatedOnly: new Set(),
    replaced: new Set(),
    terminated: new Map(),
  };
}

/** Fails and deletes `pods`, adding to `options.outcome` (a fresh one unless an earlier pass began it). */
export async function terminatePods(
  pods: readonly V1Pod[],
  event: KernelPanicEvent,
  nodeName: string,
  writer: PodWriter,
  options: PodOptions,
): Promise<PodOutcome> {
  const outcome = options.outcome ?? emptyOutcome();
  const annotations = terminationAnnotations(event, nodeName);
  const recorded = options.recorded ?? Promise.resolve();
  // Awaited before every deletion and below; this only keeps a failure that no pod waited for from going unheard.
  recorded.catch(() => undefined);
  await forEachLimit(pods, options.concurrency, (pod) =>
    terminatePod(pod, { event, nodeName, writer, annotations, outcome, log: options.log, now: options.now, recorded }),
  );
  await recorded;
  return outcome;
}

interface PodContext {
  readonly event: KernelPanicEvent;
  readonly nodeName: string;
  readonly writer: PodWriter;
  readonly annotations: Record<string, string>;
  readonly outcome: PodOutcome;
  readonly log: Logger;
  readonly now: () => Date;
  readonly recorded: Promise<unknown>;
}

async function terminatePod(pod: V1Pod, ctx: PodContext): Promise<void> {
  const ref = podRef(pod);
  const failedByUs = hasOurCondition(pod);
  if (onlyAnnotated(pod)) {
    await annotateFinished(pod, ref, ctx);
    return;
  }
  if (!failedByUs)
    await ctx.writer.failPod(
      ref.namespace,
      ref.name,
      ctx.annotations,
      disruptionCondition(ctx.event, ctx.nodeName, ctx.now()),
    );
  ctx.outcome.failed.add(ref.uid);
  // A Job's pod keeps its tracking finalizer until the Job controller has counted it: already deleting is done.
  const deleting = pod.metadata?.deletionTimestamp !== undefined;
  await ctx.recorded;
  const result = deleting ? "deleted" : await ctx.writer.deletePod(ref.namespace, ref.name, ref.uid);
  // Either way the pod is gone. "replaced": its controller got there first (a StatefulSet deletes a Failed pod
  // and recreates it under the same name); the UID precondition kept the replacement safe.
  ctx.outcome.deleted.add(ref.uid);
  if (result === "replaced") ctx.outcome.replaced.add(ref.uid);
  ctx.outcome.terminated.set(ref.uid, ref);
}

/** A pod that had finished before the panic only gets the annotations: its outcome stands. */
async function annotateFinished(pod: V1Pod, ref: PodRef, ctx: PodContext): Promise<void> {
  if (pod.metadata?.annotations?.[ANNOTATIONS.kernelPanicEvent] !== ctx.event.metadata.name) {
    await ctx.writer.annotatePod(ref.namespace, ref.name, ctx.annotations);
  }
  ctx.outcome.annotatedOnly.add(ref.uid);
  ctx.log.debug("Annotated pod that had already finished", {
    pod: `${ref.namespace}/${ref.name}`,
    phase: pod.status?.phase,
  });
}

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  /** The pod's controller (ReplicaSet, StatefulSet, Job, …) from its ownerReferences; none for a bare pod. */
  readonly owner?: OwnerRef;
}

export interface OwnerRef {
  readonly kind: string;
  readonly apiVersion: string;
  readonly name: string;
  readonly uid: string;
}

export function podRef(pod: V1Pod): PodRef {
  const controller = pod.metadata?.ownerReferences?.find((o) => o.controller === true);
  return {
    namespace: pod.metadata?.namespace ?? "",
    name: pod.metadata?.name ?? "",
    uid: pod.metadata?.uid ?? "",
    ...(controller === undefined
      ? {}
      : {
          owner: {
            kind: controller.kind,
            apiVersion: controller.apiVersion,
            name: controller.name,
            uid: controller.uid,
          },
        }),
  };
}

/** A pod that had finished before the panic (and not by our hand): its outcome stands, it is only annotated. */
export function onlyAnnotated(pod: V1Pod): boolean {
  return isTerminal(pod) && !hasOurCondition(pod);
}

function isTerminal(pod: V1Pod): boolean {
  return pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed";
}

function hasOurCondition(pod: V1Pod): boolean {
  return (
    pod.status?.conditions?.some(
      (c) => c.type === DISRUPTION_TARGET && c.reason === REASON_CODE && c.status === "True",
    ) === true
  );
}

function disruptionCondition(event: KernelPanicEvent, nodeName: string, now: Date): Record<string, string> {
  return {
    type: DISRUPTION_TARGET,
    status: "True",
    reason: REASON_CODE,
    message: `Node ${nodeName} had a kernel panic: ${event.spec.reason} (KernelPanicEvent ${event.metadata.name}).`,
    lastTransitionTime: now.toISOString(),
  };
}
