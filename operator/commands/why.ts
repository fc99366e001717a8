// `lastgasp why <namespace>/<pod>`: why a pod went away, from the KernelPanicEvents that outlive it (their
// status.pods): which node, which panic (reason, cause, signature), when, what lastgasp did, and what happened
// next (the owner's replacement, the Job's retry). Found through the events' namespace labels, not by listing
// every event (why-lookup.ts).
import type { V1Job, V1ReplicaSet } from "@kubernetes/client-node";
import type { KernelPanicEvent, PodRecord } from "../api/kernelpanicevent.ts";
import { systemClock } from "../clock.ts";
import { kubeconfigSetting } from "../config/common.ts";
import { describeSettings, oneOf, resolveSettings, text, type Setting } from "../config/settings.ts";
import { ApiCaller } from "../kube/caller.ts";
import { loadKubeConfig } from "../kube/kubeconfig.ts";
import { ClusterReader } from "../kube/reader.ts";
import type { Command } from "./command.ts";
import { reportStartFailure } from "./run.ts";
import {
  candidateSelectors,
  eventsWithUnlistedPods,
  findPod,
  parsePodQuery,
  type PodFinding,
  type PodQuery,
} from "./why-lookup.ts";

const whySettings = {
  format: {
    name: "format",
    description: "text, or json (one object per record of the pod, per line).",
    default: "text",
    parse: oneOf("text", "json"),
  } satisfies Setting<"text" | "json">,
  namespace: {
    name: "namespace",
    description: "With a pod's UID: its namespace, so that only that namespace's events are read.",
    default: "",
    parse: text,
  } satisfies Setting<string>,
  kubeconfig: kubeconfigSetting,
};

/** Exit code when no record names the pod (like grep: the answer is "nothing"). */
const NOT_FOUND = 1;

export const whyCommand: Command = {
  usage: `Usage: lastgasp why [options] <namespace>/<pod> | <pod UID>\n\nSays why a pod went away, from the KernelPanicEvents that recorded it: its node, the panic (reason, cause, signature), when, what lastgasp did to it, and what its owner did next. Exit code 1 when no record names it.\n\n${describeSettings(whySettings)}`,
  run: async (args) => {
    try {
      const { values, positionals } = resolveSettings(whySettings, args, process.env);
      if (positionals.length !== 1) throw new Error("expected one pod: <namespace>/<pod> or its UID");
      const query = parsePodQuery(positionals[0]!, values.namespace);
      const caller = new ApiCaller({ qps: 5, burst: 10, requestTimeoutMs: 30_000, throttleRetries: 3 }, systemClock);
      const reader = new ClusterReader(loadKubeConfig(values.kubeconfig), caller);
      const events = await candidates(reader, query);
      const findings = findPod(events, query);
      if (findings.length === 0) {
        process.stdout.write(notFound(query, eventsWithUnlistedPods(events)));
        return NOT_FOUND;
      }
      for (const finding of findings) {
        const explanation = await explain(finding, reader);
        process.stdout.write(values.format === "json" ? `${JSON.stringify(explanation)}\n` : asText(explanation));
      }
      return 0;
    } catch (err) {
      return reportStartFailure("why", err);
    }
  },
};

async function candidates(reader: ClusterReader, query: PodQuery): Promise<KernelPanicEvent[]> {
  const selectors = candidateSelectors(query);
  if (selectors === undefined) return (await reader.listKernelPanicEvents()).items;
  const lists = await Promise.all(selectors.map((s) => reader.listKernelPanicEvents(s)));
  return lists.flatMap((l) => l.items);
}

function notFound(query: PodQuery, unlisted: readonly KernelPanicEvent[]): string {
  const pod = query.uid === undefined ? `${query.namespace}/${query.name}` : `pod ${query.uid}`;
  const maybe = unlisted.map(
    (e) =>
      `  ${e.metadata.name} lists ${e.status?.pods?.length ?? 0} of its pods, not ${e.status?.podsNotListed ?? 0} more: it may be one of those.\n`,
  );
  return (
    `${pod}: not found in any record. No KernelPanicEvent lists it: lastgasp did not act on it (or its record ` +
    `expired). Panics recovered after a reboot from pstore or kdump name no pods: lastgasp never acts on them.\n` +
    maybe.join("")
  );
}

export interface Explanation {
  readonly pod: PodRecord;
  readonly node: string;
  readonly event: string;
  readonly panickedAt: string;
  readonly reason: string;
  readonly cause?: string;
  readonly signature?: string;
  /** What lastgasp did to the pod. */
  readonly done: string;
  /** Where the remediation stands (the Remediated condition). */
  readonly remediation: string;
  /** What the pod's owner did since (its replacement, the Job's retry). */
  readonly next: string;
}

async function explain({ event, pod }: PodFinding, reader: ClusterReader): Promise<Explanation> {
  const remediated = event.status?.conditions?.find((c) => c.type === "Remediated");
  const terminated = event.status?.conditions?.find((c) => c.type === "PodsTerminated")?.status === "True";
  return {
    pod,
    node: event.status?.nodeName ?? event.spec.hostIP,
    event: event.metadata.name,
    panickedAt: event.spec.detectedTime,
    reason: event.spec.reason,
    ...(event.spec.cause === undefined ? {} : { cause: event.spec.cause }),
    ...(event.spec.signature === undefined ? {} : { signature: event.spec.signature.title }),
    done: doneTo(pod, terminated),
    remediation: remediated === undefined ? "not begun" : `${remediated.reason}: ${remediated.message}`,
    next: await whatNext(pod, reader).catch((err: unknown) => `(could not read its owner: ${(err as Error).message})`),
  };
}

function doneTo(pod: PodRecord, terminated: boolean): string {
  const what =
    pod.action === "Failed"
      ? "marked Failed (condition DisruptionTarget, reason KernelPanic), annotated and deleted"
      : "annotated only: it had finished before the panic, so its outcome stands";
  return terminated ? what : `${what} (in progress when last written)`;
}

async function whatNext(pod: PodRecord, reader: ClusterReader): Promise<string> {
  const owner = pod.owner;
  if (owner === undefined) return "a bare pod: nothing recreates it";
  if (owner.kind === "StatefulSet") return statefulSetNow(pod, owner.name, reader);
  if (owner.kind !== "ReplicaSet" && owner.kind !== "Job") return `${owner.kind} ${owner.name}`;
  const workload = await reader.getWorkload(owner.kind, pod.namespace, owner.name);
  if (workload === undefined) return `${owner.kind} ${owner.name}: gone`;
  return owner.kind === "Job"
    ? jobNow(owner.name, workload as V1Job)
    : replicasNow(owner.name, workload as V1ReplicaSet);
}

/** A StatefulSet recreates its pod under the same name, with another UID. */
async function statefulSetNow(pod: PodRecord, owner: string, reader: ClusterReader): Promise<string> {
  const now = await reader.getPod(pod.namespace, pod.name);
  if (now === undefined || now.metadata?.uid === pod.uid) return `StatefulSet ${owner}: not recreated yet`;
  const where = now.spec?.nodeName ?? "(not scheduled)";
  return `StatefulSet ${owner} recreated ${pod.name} (uid ${now.metadata?.uid ?? "?"}): ${now.status?.phase ?? "Unknown"} on node ${where}`;
}

function replicasNow(name: string, rs: V1ReplicaSet): string {
  return `ReplicaSet ${name} replaced it: ${rs.status?.readyReplicas ?? 0}/${rs.spec?.replicas ?? 0} replicas ready`;
}

function jobNow(name: string, job: V1Job): string {
  const s = job.status;
  const finished = s?.conditions?.find((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True");
  const counts = `${s?.active ?? 0} active, ${s?.succeeded ?? 0} succeeded, ${s?.failed ?? 0} failed`;
  return `Job ${name} retried it: ${counts}${finished === undefined ? "" : `; ${finished.type}`}`;
}

function asText(e: Explanation): string {
  const rows: [string, string | undefined][] = [
    ["node", `${e.node}, which had a kernel panic at ${e.panickedAt}`],
    ["panic", e.reason],
    ["cause", e.cause],
    ["signature", e.signature],
    ["done", e.done],
    ["remediation", e.remediation],
    ["next", e.next],
    ["record", `kubectl get kernelpanicevent ${e.event} -o yaml`],
  ];
  const lines = rows.filter(([, v]) => v !== undefined).map(([k, v]) => `  ${`${k}:`.padEnd(13)}${v!}\n`);
  return `${e.pod.namespace}/${e.pod.name} (uid ${e.pod.uid})\n${lines.join("")}`;
}
