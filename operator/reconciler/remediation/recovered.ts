// A panic recovered after its node rebooted (pstore, kdump) is history: the node came back, and its pods were
// handled then. The reconciler never resolves, probes, fails pods or touches a Node for it, whatever the event
// says: it records that it did nothing, and the event stays the crash's record (its signature, its node's count)
// for as long as a remediated one.
import type { KernelPanicEvent } from "../../api/kernelpanicevent.ts";
import type { Logger } from "../../log.ts";
import type { ReconcilerMetrics } from "../metrics.ts";
import { CONDITIONS, REASONS } from "../status/conditions.ts";
import { writeConditions, type StatusDeps } from "../status/event-status.ts";

export interface RecoveredDeps extends StatusDeps {
  readonly metrics: Pick<ReconcilerMetrics, "remediations">;
  readonly log: Logger;
  readonly options: { readonly eventTtlMs: number };
}

export async function recordRecovered(
  event: KernelPanicEvent,
  deps: RecoveredDeps,
): Promise<{ requeueAfterMs: number }> {
  const message = `Recovered from ${event.spec.source} after the node rebooted: a panic of an earlier boot, nothing to remediate.`;
  await writeConditions(event, deps, [
    { type: CONDITIONS.remediated, status: "False", reason: REASONS.recovered, message },
  ]);
  deps.metrics.remediations.inc({ result: REASONS.recovered });
  deps.log.info("Recorded a recovered kernel panic; nothing to remediate", {
    name: event.metadata.name,
    source: event.spec.source,
    hostIP: event.spec.hostIP,
  });
  return { requeueAfterMs: deps.options.eventTtlMs };
}
