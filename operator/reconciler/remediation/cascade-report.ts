// What a cascade leaves for people: the suspects in the event's status, a Warning on each suspect workload naming
// the nodes, and, with cascadeAction hold, the node that the workload followed a third time waits for approval:
// remediating it would only move the pods to the next node.
import type { KernelPanicEvent, KernelPanicEventStatus, Suspect, Workload } from "../../api/kernelpanicevent.ts";
import type { ClusterReader } from "../../kube/reader.ts";
import type { ClusterWriter } from "../../kube/writer.ts";
import type { Logger } from "../../log.ts";
import type { CascadeTracker, SuspectFinding } from "../fleet/cascade.ts";
import type { ReconcilerMetrics } from "../metrics.ts";
import { recordWarning } from "./pod-events.ts";
import { workloadKey, workloadsOf, type ControllerReader } from "../fleet/workloads.ts";

export type CascadeAction = "hold" | "advise";

/**
 * Nodes a suspect must have been on, this one included, before this one waits. Two panicked nodes sharing a
 * workload show the pattern (and may be chance: a large Deployment is on many nodes); the third that it followed
 * would feed it.
 */
export const HOLD_FROM_NODES = 3;

/** Warning on a suspect workload. */
export const CASCADE_REASON = "KernelPanicCascade";

export interface CascadeFinding {
  readonly workloads: readonly Workload[];
  readonly suspects: readonly SuspectFinding[];
  /** The suspect that makes this node wait, with cascadeAction hold. */
  readonly hold: SuspectFinding | undefined;
  readonly windowMs: number;
}

export interface CascadeDeps {
  readonly reader: ControllerReader & Pick<ClusterReader, "listPodsOnNode">;
  readonly cascade: Pick<CascadeTracker, "ran" | "suspects" | "enabled">;
  readonly log: Logger;
  readonly options: {
    readonly cascadeAction: CascadeAction;
    readonly cascadeWindowMs: number;
    readonly podConcurrency: number;
  };
}

export interface AnnounceDeps {
  readonly writer: Pick<ClusterWriter, "recordEvent">;
  readonly metrics: Pick<ReconcilerMetrics, "cascades">;
  readonly log: Logger;
}

/**
 * The node's workloads (as captured before, when this event was seen already) and the suspects among them. Notes
 * this panic's workloads for the next ones.
 */
/**
 * The node's workloads, read only (nothing is recorded): what findCascade would read, started early while the
 * node's death is being corroborated. Undefined when findCascade will not need it.
 */
export function readWorkloads(
  event: KernelPanicEvent,
  nodeName: string,
  deps: CascadeDeps,
): Promise<Workload[] | undefined> | undefined {
  if (!deps.cascade.enabled || event.status?.workloads !== undefined) return undefined;
  const options = { concurrency: deps.options.podConcurrency, log: deps.log };
  // A failed early read is no failure: findCascade reads again.
  return deps.reader
    .listPodsOnNode(nodeName)
    .then((pods) => workloadsOf(pods, deps.reader, options))
    .catch(() => undefined);
}

export async function findCascade(
  event: KernelPanicEvent,
  nodeName: string,
  deps: CascadeDeps,
  prefetched?: Promise<Workload[] | undefined>,
): Promise<CascadeFinding> {
  const none = { workloads: [], suspects: [], hold: undefined, windowMs: deps.options.cascadeWindowMs };
  if (!deps.cascade.enabled) return none;
  const options = { concurrency: deps.options.podConcurrency, log: deps.log };
  const workloads =
    event.status?.workloads ??
    (await prefetched) ??
    (await workloadsOf(await deps.reader.listPodsOnNode(nodeName), deps.reader, options));
  const panic = { nodeName, event: event.metadata.name, atMs: Date.parse(event.spec.detectedTime) };
  const suspects = deps.cascade.suspects(panic, workloads);
  deps.cascade.ran(panic, workloads);
  const hold = deps.options.cascadeAction === "hold" ? suspects.find((s) => holds(s, workloads)) : undefined;
  return { ...none, workloads, suspects, hold };
}

/**
 * On its third panicked node, and its pods came here after the first of those panics: it followed the crash, from
 * that node or the next (a large Deployment's old pods on many nodes, or a rollout before the panics, did not).
 */
function holds(suspect: SuspectFinding, workloads: readonly Workload[]): boolean {
  const here = workloads.find((w) => workloadKey(w) === workloadKey(suspect));
  const arrived = Date.parse(here?.newestPod ?? "");
  return suspect.nodes >= HOLD_FROM_NODES && suspect.firstPanicMs !== undefined && arrived > suspect.firstPanicMs;
}

/** The status fields of a finding: what was on the node, and the suspects. */
export function cascadeStatus(finding: CascadeFinding): Pick<KernelPanicEventStatus, "workloads" | "suspects"> {
  if (finding.workloads.length === 0) return {};
  const suspects: Suspect[] = finding.suspects.map(({ kind, namespace, name, nodes, events }) => ({
    kind,
    namespace,
    name,
    nodes,
    events,
  }));
  return { workloads: [...finding.workloads], suspects };
}

export function holdMessage(suspect: SuspectFinding, nodeName: string, windowMs: number): string {
  return `${describeSuspect(suspect, windowMs)}, and its pods came to Node ${nodeName} after the first of those panics: a cascade. Remediating would move them to the next node. Waiting; scale it down or fix it, then annotate lastgasp.dev/approve="true" to proceed.`;
}

/** A Warning on each suspect workload, once per event (when the suspects differ from what the status says). */
export async function announceCascade(
  event: KernelPanicEvent,
  finding: CascadeFinding,
  { writer, metrics, log }: AnnounceDeps,
): Promise<void> {
  const known = fingerprint(event.status?.suspects ?? []);
  if (finding.suspects.length === 0 || fingerprint(finding.suspects) === known) return;
  metrics.cascades.inc({ action: finding.hold === undefined ? "advised" : "held" });
  for (const suspect of finding.suspects) {
    const workload = finding.workloads.find((w) => workloadKey(w) === workloadKey(suspect));
    const object = {
      kind: suspect.kind,
      apiVersion: workload?.apiVersion ?? "v1",
      namespace: suspect.namespace,
      name: suspect.name,
    };
    const message = [
      `${describeSuspect(suspect, finding.windowMs)}: its pods may be what crashes them, moved from node to node.`,
      ...(finding.hold === suspect ? ["The last node waits for approval."] : []),
      "Check what its pods do to the kernel (privileges, modules, eBPF, memory), and spread or pause it.",
    ].join(" ");
    // Best effort, as the pods' Events: the status already names the suspects.
    await recordWarning(writer, object, CASCADE_REASON, message, log);
  }
}

/** The suspects as compared: which workloads, on which events (the order of fields the API returns aside). */
function fingerprint(suspects: readonly Suspect[]): string {
  return suspects.map((s) => `${workloadKey(s)}:${s.events.join(",")}`).join(";");
}

function describeSuspect(suspect: SuspectFinding, windowMs: number): string {
  const minutes = Math.round(windowMs / 60_000);
  return `${suspect.kind} ${suspect.namespace}/${suspect.name} was on ${suspect.nodes} nodes that panicked within ${minutes} min (${suspect.nodeNames.join(", ")}; KernelPanicEvents ${suspect.events.join(", ")})`;
}
