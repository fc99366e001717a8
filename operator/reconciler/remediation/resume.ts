// A remediation that a restart (or an API outage) interrupted, resumed so that its status tells the truth. After
// its pods: a checkpoint (PodsTerminated and the counts), so that a restart after the Node was deleted ends the
// event Remediated with those counts, not refused for a Node it removed itself. A Node that is gone before the
// pods were done: its remaining pods (still bound to its name) are finished, and the event ends Remediated.
import type { KernelPanicEvent } from "../../api/kernelpanicevent.ts";
import type { ClusterReader } from "../../kube/reader.ts";
import { CONDITIONS, REASONS, getCondition } from "../status/conditions.ts";
import { writeConditions, type StatusDeps } from "../status/event-status.ts";
import type { NodeOutcome } from "./node.ts";
import { terminatePods, type PodWriter } from "./pods.ts";
import { recordPods, type PodRecordDeps } from "./pod-records.ts";
import { recordImpacts, type ImpactDeps } from "./impacts.ts";
import type { RemediationProgress } from "./progress.ts";
import { countsOf, podsMessage, reportRemediation, type PodCounts, type ReportDeps } from "./remediation-report.ts";

/** What finishing a remediation without its Node needs. */
export interface ResumeDeps extends ReportDeps {
  readonly reader: Pick<ClusterReader, "listPodsOnNode">;
  readonly writer: ReportDeps["writer"] & PodWriter & PodRecordDeps["writer"] & ImpactDeps["writer"];
  readonly progress: RemediationProgress;
  readonly options: { readonly podConcurrency: number; readonly cascadeWindowMs: number; readonly eventTtlMs: number };
}

/** Admitted and begun: marked InProgress (and not yet finished). */
export function isInProgress(event: KernelPanicEvent): boolean {
  return getCondition(event.status, CONDITIONS.remediated)?.reason === REASONS.inProgress;
}

/** Writes what was done to the pods (PodsTerminated and the counts) before the Node is acted on. */
export async function checkpointPods(
  event: KernelPanicEvent,
  pods: PodCounts,
  deps: StatusDeps & { readonly writer: { readonly dryRun: boolean } },
): Promise<KernelPanicEvent> {
  const dry = deps.writer.dryRun;
  return writeConditions(
    event,
    deps,
    [
      {
        type: CONDITIONS.podsTerminated,
        status: dry ? "False" : "True",
        reason: dry ? REASONS.dryRun : REASONS.podsFailed,
        message: podsMessage(pods, dry),
      },
    ],
    { podsFailed: pods.failed, podsDeleted: pods.deleted },
  );
}

/** The Node is gone while the event is InProgress: its remediation removed it, or someone did; finish it. */
export async function finishWithoutNode(
  event: KernelPanicEvent,
  deps: ResumeDeps,
): Promise<{ requeueAfterMs: number }> {
  const nodeName = event.status?.nodeName ?? "";
  const checkpointed = getCondition(event.status, CONDITIONS.podsTerminated)?.status === "True";
  let pods: PodCounts;
  let records = event.status?.pods ?? [];
  if (checkpointed) {
    pods = { failed: event.status?.podsFailed ?? 0, deleted: event.status?.podsDeleted ?? 0 };
  } else {
    const listed = await deps.reader.listPodsOnNode(nodeName);
    const recording = recordPods(event, listed, deps);
    const outcome = await terminatePods(listed, event, nodeName, deps.writer, {
      concurrency: deps.options.podConcurrency,
      log: deps.log,
      now: deps.now,
      outcome: deps.progress.of(event),
      recorded: recording,
    });
    pods = countsOf(outcome);
    records = await recording;
  }
  await recordImpacts(event, nodeName, records, deps);
  const nodeOutcome: NodeOutcome = {
    removed: true,
    reason: REASONS.nodeAlreadyGone,
    message: `Found Node ${nodeName} already gone when the remediation resumed`,
  };
  const noCascade = { workloads: [], suspects: [], hold: undefined, windowMs: deps.options.cascadeWindowMs };
  await reportRemediation(event, nodeName, { pods, nodeOutcome, loop: undefined, cascade: noCascade }, deps);
  deps.progress.forget(event);
  deps.log.info("Resumed remediation finished without its Node", { name: event.metadata.name, node: nodeName });
  return { requeueAfterMs: deps.options.eventTtlMs };
}
