// The end of a remediation: every step's condition, the captured workloads and suspects, the Normal Event on the
// KernelPanicEvent, the metrics and the log line.
import type { KernelPanicEvent } from "../../api/kernelpanicevent.ts";
import type { ClusterWriter } from "../../kube/writer.ts";
import type { Logger } from "../../log.ts";
import * as cascades from "./cascade-report.ts";
import { CONDITIONS, REASONS, type ConditionUpdate } from "../status/conditions.ts";
import * as crashLoops from "./crashloop-report.ts";
import { kpeRef, nodeFound, writeConditions } from "../status/event-status.ts";
import type { ReconcilerMetrics } from "../metrics.ts";
import type { NodeOutcome } from "./node.ts";
import type { PodOutcome } from "./pods.ts";

/** How many pods a remediation failed, deleted, only annotated and found replaced (the last two when known). */
export interface PodCounts {
  readonly failed: number;
  readonly deleted: number;
  readonly annotatedOnly?: number;
  readonly replaced?: number;
}

export function countsOf(outcome: PodOutcome): PodCounts {
  return {
    failed: outcome.failed.size,
    deleted: outcome.deleted.size,
    annotatedOnly: outcome.annotatedOnly.size,
    replaced: outcome.replaced.size,
  };
}

/** The PodsTerminated message: what was done to the pods, in the tense of a dry run or of a real one. */
export function podsMessage(pods: PodCounts, dry: boolean): string {
  const verb = dry ? "would be" : "were";
  const done = `${pods.failed} pods ${verb} marked Failed (DisruptionTarget) and ${pods.deleted} deleted`;
  if (pods.annotatedOnly === undefined) return `${done} (counted before the reconciler restarted).`;
  return `${done}; ${pods.annotatedOnly} already finished ${verb} annotated; ${pods.replaced ?? 0} of them already replaced by their controller (replacements left alone).`;
}

export interface ReportDeps {
  readonly writer: Pick<ClusterWriter, "dryRun" | "recordEvent" | "patchKernelPanicEventStatus">;
  readonly metrics: Pick<ReconcilerMetrics, "remediations" | "podsFailed" | "podsDeleted" | "detectionToRemediation">;
  readonly log: Logger;
  readonly now: () => Date;
}

export async function reportRemediation(
  event: KernelPanicEvent,
  nodeName: string,
  result: {
    pods: PodCounts;
    nodeOutcome: NodeOutcome;
    loop: crashLoops.CrashLoopReport | undefined;
    cascade: cascades.CascadeFinding;
  },
  deps: ReportDeps,
): Promise<void> {
  const { pods, nodeOutcome, loop } = result;
  const dry = deps.writer.dryRun;
  const now = deps.now();
  const seconds = Math.max(0, (now.getTime() - Date.parse(event.spec.detectedTime)) / 1000);
  const podsDone = podsMessage(pods, dry);
  const summary = `${podsDone} ${nodeOutcome.message}.`;
  const updates = [
    ...finalConditions({ event, nodeName, dry, podsMessage: podsDone, nodeOutcome, summary, seconds }),
    ...(loop === undefined ? [] : [crashLoops.crashLoopCondition(nodeName, loop)]),
  ];
  await writeConditions(event, deps, updates, {
    ...cascades.cascadeStatus(result.cascade),
    nodeName,
    podsFailed: pods.failed,
    podsDeleted: pods.deleted,
    remediatedTime: now.toISOString(),
    remediationSeconds: seconds,
  });
  await deps.writer.recordEvent(
    kpeRef(event),
    "Normal",
    dry ? REASONS.dryRun : REASONS.remediated,
    dry ? `Dry run: ${summary}` : summary,
  );
  countRemediation(deps, pods, dry, seconds);
  deps.log.info(dry ? "Computed remediation (dry run)" : "Remediated kernel panic", {
    name: event.metadata.name,
    node: nodeName,
    failed: pods.failed,
    deleted: pods.deleted,
    annotatedOnly: pods.annotatedOnly,
    replaced: pods.replaced,
    nodeAction: nodeOutcome.reason,
    seconds,
  });
}

interface Outcome {
  readonly event: KernelPanicEvent;
  readonly nodeName: string;
  readonly dry: boolean;
  readonly podsMessage: string;
  readonly nodeOutcome: NodeOutcome;
  readonly summary: string;
  readonly seconds: number;
}

/** Every step's condition once remediation (or its dry run) is done. */
function finalConditions(o: Outcome): ConditionUpdate[] {
  const done = o.dry ? "False" : "True";
  return [
    nodeFound(o.event, o.nodeName),
    {
      type: CONDITIONS.podsTerminated,
      status: done,
      reason: o.dry ? REASONS.dryRun : REASONS.podsFailed,
      message: o.podsMessage,
    },
    {
      type: CONDITIONS.nodeRemoved,
      status: o.nodeOutcome.removed && !o.dry ? "True" : "False",
      reason: o.dry ? REASONS.dryRun : o.nodeOutcome.reason,
      message: `${o.nodeOutcome.message}.`,
    },
    {
      type: CONDITIONS.remediated,
      status: done,
      reason: o.dry ? REASONS.dryRun : REASONS.remediated,
      message: o.dry
        ? `Dry run, nothing changed: ${o.summary}`
        : `Remediated ${o.seconds.toFixed(1)} s after the panic.`,
    },
  ];
}

function countRemediation(deps: ReportDeps, pods: PodCounts, dry: boolean, seconds: number): void {
  deps.metrics.remediations.inc({ result: dry ? "dry_run" : "remediated" });
  if (dry) return;
  deps.metrics.podsFailed.inc(pods.failed);
  deps.metrics.podsDeleted.inc(pods.deleted);
  deps.metrics.detectionToRemediation.observe(seconds);
}
