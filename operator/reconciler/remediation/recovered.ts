// A panic recovered after its node rebooted (pstore, kdump) is history: the node came back, and its pods were
// handled then. The reconciler never resolves, probes, fails pods or touches a Node for it, whatever the event
// says: it records that it did nothing, and the event stays the crash's record (its signature, its node's count)
// for as long as a remediated one. It counts towards its node's crash loop (a node that keeps panicking with
// netconsole lost is still a crash loop: said on the event and in a Warning on the Node, never a quarantine from
// history). When netconsole carried the same panic, that event is marked confirmed and this one goes: one panic,
// one event.
import type { KernelPanicEvent } from "../../api/kernelpanicevent.ts";
import type { ClusterReader } from "../../kube/reader.ts";
import type { ClusterWriter } from "../../kube/writer.ts";
import type { Logger } from "../../log.ts";
import type { CrashLoopTracker } from "../fleet/crashloop.ts";
import { netconsoleTwin } from "../fleet/recovered-twin.ts";
import type { ReconcilerMetrics } from "../metrics.ts";
import { CONDITIONS, REASONS } from "../status/conditions.ts";
import { confirmedBy, writeConditions, type StatusDeps } from "../status/event-status.ts";
import { crashLoopCondition, crashLoopOf } from "./crashloop-report.ts";

export interface RecoveredDeps extends StatusDeps {
  readonly reader: Pick<ClusterReader, "listKernelPanicEvents">;
  readonly writer: StatusDeps["writer"] & Pick<ClusterWriter, "deleteKernelPanicEvent" | "recordEvent">;
  readonly crashLoop: Pick<CrashLoopTracker, "panicked" | "loop">;
  readonly metrics: Pick<ReconcilerMetrics, "remediations" | "crashLoops" | "recoveredPanics">;
  readonly log: Logger;
  readonly options: { readonly eventTtlMs: number; readonly crashLoopWindowMs: number };
}

export async function recordRecovered(
  event: KernelPanicEvent,
  deps: RecoveredDeps,
): Promise<{ requeueAfterMs?: number }> {
  const twin = netconsoleTwin(event, (await deps.reader.listKernelPanicEvents()).items);
  if (twin !== undefined) return mergeIntoTwin(event, twin, deps);
  const nodeName = event.spec.nodeName ?? "";
  const loop =
    nodeName === "" ? undefined : crashLoopOf(deps.crashLoop, event, nodeName, deps.options.crashLoopWindowMs);
  const message = `Recovered from ${event.spec.source} after the node rebooted: a panic of an earlier boot, nothing to remediate.`;
  await writeConditions(
    event,
    deps,
    [
      { type: CONDITIONS.remediated, status: "False", reason: REASONS.recovered, message },
      ...(loop === undefined ? [] : [crashLoopCondition(nodeName, loop, "not quarantined: recovered history")]),
    ],
    nodeName === "" ? {} : { nodeName },
  );
  deps.metrics.remediations.inc({ result: "recovered" });
  deps.metrics.recoveredPanics.inc({ source: event.spec.source ?? "", outcome: "recorded" });
  if (loop !== undefined) {
    deps.metrics.crashLoops.inc();
    await deps.writer.recordEvent(
      { kind: "Node", apiVersion: "v1", name: nodeName },
      "Warning",
      "KernelPanicCrashLoop",
      `Node ${nodeName} panicked ${loop.loop.length} times within the crash-loop window (KernelPanicEvents ${loop.loop.join(", ")}), the last recovered from ${event.spec.source} after a reboot. lastgasp does not quarantine a node on history: find the cause (kubectl get kpe -l lastgasp.dev/signature=${event.spec.signature?.id ?? ""}).`,
    );
  }
  deps.log.info("Recorded a recovered kernel panic; nothing to remediate", {
    name: event.metadata.name,
    source: event.spec.source,
    nodeName,
    crashLoop: loop !== undefined,
  });
  return { requeueAfterMs: deps.options.eventTtlMs };
}

async function mergeIntoTwin(
  event: KernelPanicEvent,
  twin: KernelPanicEvent,
  deps: RecoveredDeps,
): Promise<{ requeueAfterMs?: number }> {
  const source = event.spec.source === "kdump" ? "kdump" : "pstore";
  await confirmedBy(twin, deps, source);
  await deps.writer.deleteKernelPanicEvent(event.metadata.name, event.metadata.uid ?? "");
  deps.metrics.recoveredPanics.inc({ source, outcome: "confirmed" });
  deps.log.info("A recovered kernel panic was netconsole's already: noted on its event", {
    name: event.metadata.name,
    confirmed: twin.metadata.name,
    source,
  });
  return {};
}
