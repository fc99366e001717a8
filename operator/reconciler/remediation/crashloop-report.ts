// What a crash loop leaves for people: the event's CrashLoop condition and a Warning on the Node saying why it
// stays out of service and how to put it back.
import type { V1Node } from "@kubernetes/client-node";
import { OUT_OF_SERVICE_TAINT } from "../../api/keys.ts";
import type { ClusterWriter } from "../../kube/writer.ts";
import { CONDITIONS, REASONS } from "../status/conditions.ts";
import type { ReconcilerMetrics } from "../metrics.ts";
import type { CrashLoopTracker } from "../fleet/crashloop.ts";
import type { NodeAction } from "./node.ts";
import type { KernelPanicEvent } from "../../api/kernelpanicevent.ts";

export interface CrashLoopReport {
  /** The events of the node's panics in the window, oldest first. */
  readonly loop: readonly string[];
  readonly windowMs: number;
}

/** Counts this panic of the node; its crash loop when it made one. */
export function crashLoopOf(
  tracker: Pick<CrashLoopTracker, "panicked" | "loop">,
  event: KernelPanicEvent,
  nodeName: string,
  windowMs: number,
): CrashLoopReport | undefined {
  tracker.panicked(nodeName, Date.parse(event.spec.detectedTime), event.metadata.name);
  const loop = tracker.loop(nodeName);
  return loop === undefined ? undefined : { loop, windowMs };
}

/**
 * A crash-looping node is quarantined, not deleted: its Node object stays, cordoned and tainted, so the kubelet
 * that registers again after the next reboot finds it cordoned until a person puts it back into service.
 */
export function quarantined(action: NodeAction, loop: CrashLoopReport | undefined): NodeAction {
  return loop !== undefined && action === "delete" ? "taint" : action;
}

export function crashLoopCondition(nodeName: string, report: CrashLoopReport, outcome = "quarantined") {
  return {
    type: CONDITIONS.crashLoop,
    status: "True" as const,
    reason: REASONS.crashLoop,
    message: `Node ${nodeName} panicked ${report.loop.length} times within ${hours(report)} (${report.loop.join(", ")}): ${outcome}.`,
  };
}

export async function announceCrashLoop(
  node: V1Node,
  report: CrashLoopReport,
  writer: Pick<ClusterWriter, "recordEvent">,
  metrics: Pick<ReconcilerMetrics, "crashLoops">,
): Promise<void> {
  metrics.crashLoops.inc();
  const name = node.metadata?.name ?? "";
  await writer.recordEvent(
    { kind: "Node", apiVersion: "v1", name, ...(node.metadata?.uid === undefined ? {} : { uid: node.metadata.uid }) },
    "Warning",
    "KernelPanicCrashLoop",
    `Node ${name} panicked ${report.loop.length} times within ${hours(report)} (KernelPanicEvents ${report.loop.join(", ")}). It is quarantined: cordoned and tainted ${OUT_OF_SERVICE_TAINT.key}, and kept so that it stays cordoned when it registers again. Put it back with kubectl uncordon ${name} and by removing the taint once the cause is fixed.`,
  );
}

function hours(report: CrashLoopReport): string {
  return `${Math.round(report.windowMs / 3_600_000)} h`;
}
