// `lastgasp why <namespace>/<pod>`: why a pod went away, from the records that outlive it (the KernelPanicImpacts
// of its namespace): which node, which panic (reason, cause, signature), when, what lastgasp did, and what happened
// next (the owner's replacement, the Job's retry). Reads only the pod's namespace, so the namespace's own users
// can run it (the chart's rbac.aggregateToView).
import type { V1Job, V1ReplicaSet } from "@kubernetes/client-node";
import type { PodRecord } from "../api/kernelpanicevent.ts";
import type { KernelPanicImpact } from "../api/kernelpanicimpact.ts";
import { kubeconfigSetting } from "../config/common.ts";
import { describeSettings, oneOf, resolveSettings, text, type Setting } from "../config/settings.ts";
import { classifyError } from "../kube/errors.ts";
import type { ClusterReader } from "../kube/reader.ts";
import { cliReader } from "./cli-reader.ts";
import type { Command } from "./command.ts";
import { reportStartFailure } from "./run.ts";
import { findPod, namespaceToRead, parsePodQuery, type PodFinding, type PodQuery } from "./why-lookup.ts";

const whySettings = {
  output: {
    name: "output",
    description: "text, or json (one object per record of the pod, per line); -o for short, as in kubectl.",
    default: "text",
    parse: oneOf("text", "json"),
  } satisfies Setting<"text" | "json">,
  namespace: {
    name: "namespace",
    description: "With a pod's UID: its namespace, so that only that namespace's records are read.",
    default: "",
    parse: text,
  } satisfies Setting<string>,
  kubeconfig: kubeconfigSetting,
};

/** Exit code when no record names the pod (like grep: the answer is "nothing"). */
const NOT_FOUND = 1;

export const whyCommand: Command = {
  usage: `Usage: lastgasp why [options] <namespace>/<pod> | <pod UID>\n\nSays why a pod went away, from the KernelPanicImpacts of its namespace: its node, the panic (reason, cause, signature), when, what lastgasp did to it, and what its owner did next. Exit code 1 when no record names it.\n\n${describeSettings(whySettings)}`,
  run: async (args) => {
    try {
      const expanded = args.map((arg) => (arg === "-o" ? "--output" : arg));
      const { values, positionals } = resolveSettings(whySettings, expanded, process.env);
      if (positionals.length !== 1) throw new Error("expected one pod: <namespace>/<pod> or its UID");
      const query = parsePodQuery(positionals[0]!, values.namespace);
      const reader = cliReader(values.kubeconfig);
      const findings = findPod(await impactsFor(reader, query), query);
      if (findings.length === 0) {
        process.stdout.write(notFound(query));
        return NOT_FOUND;
      }
      for (const finding of findings) {
        const explanation = await explain(finding, reader);
        process.stdout.write(values.output === "json" ? `${JSON.stringify(explanation)}\n` : asText(explanation));
      }
      return 0;
    } catch (err) {
      return reportStartFailure("why", err);
    }
  },
};

/** The records that can name the pod; refused across namespaces, it says how to ask within one. */
async function impactsFor(reader: ClusterReader, query: PodQuery): Promise<KernelPanicImpact[]> {
  const namespace = namespaceToRead(query);
  try {
    return await reader.listKernelPanicImpacts(namespace);
  } catch (err) {
    if (namespace !== "" || classifyError(err).class !== "Forbidden") throw err;
    throw new Error("a UID alone is looked up in every namespace: give --namespace to look in one", { cause: err });
  }
}

function notFound(query: PodQuery): string {
  const pod = query.uid === undefined ? `${query.namespace}/${query.name}` : `pod ${query.uid}`;
  return (
    `${pod}: not found in any record. No KernelPanicImpact lists it: lastgasp did not act on it (or the record ` +
    `expired with its KernelPanicEvent). Panics recovered after a reboot from pstore or kdump name no pods: ` +
    `lastgasp never acts on them.\n`
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
  /** What the pod's owner did since (its replacement, the Job's retry). */
  readonly next: string;
}

async function explain({ impact, pod }: PodFinding, reader: ClusterReader): Promise<Explanation> {
  const spec = impact.spec;
  return {
    pod,
    node: spec.node,
    event: spec.event,
    panickedAt: spec.panickedAt,
    reason: spec.reason,
    ...(spec.cause === undefined ? {} : { cause: spec.cause }),
    ...(spec.signature === undefined ? {} : { signature: spec.signature }),
    done:
      pod.action === "Failed"
        ? "marked Failed (condition DisruptionTarget, reason KernelPanic), annotated and deleted"
        : "annotated only: it had finished before the panic, so its outcome stands",
    next: await whatNext(pod, reader).catch((err: unknown) => `(could not read its owner: ${(err as Error).message})`),
  };
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
  return `ReplicaSet ${name} now: ${rs.status?.readyReplicas ?? 0}/${rs.spec?.replicas ?? 0} replicas ready`;
}

function jobNow(name: string, job: V1Job): string {
  const s = job.status;
  const finished = s?.conditions?.find((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True");
  const counts = `${s?.active ?? 0} active, ${s?.succeeded ?? 0} succeeded, ${s?.failed ?? 0} failed`;
  return `Job ${name} now: ${counts}${finished === undefined ? "" : `; ${finished.type}`}`;
}

function asText(e: Explanation): string {
  const rows: [string, string | undefined][] = [
    ["node", `${e.node}, which had a kernel panic at ${e.panickedAt}`],
    ["panic", e.reason],
    ["cause", e.cause],
    ["signature", e.signature],
    ["done", e.done],
    ["next", e.next],
    ["record", `kubectl get kernelpanicimpact -n ${e.pod.namespace} ${e.event} -o yaml`],
  ];
  const lines = rows.filter(([, v]) => v !== undefined).map(([k, v]) => `  ${`${k}:`.padEnd(13)}${v!}\n`);
  return `${e.pod.namespace}/${e.pod.name} (uid ${e.pod.uid})\n${lines.join("")}`;
}
