// Which records name a pod, for `lastgasp why`: the question (a pod by namespace/name, or by UID), where to read
// (the KernelPanicImpacts of its namespace: namespaced, so the API server lists one namespace's without reading
// every panic's; every namespace's only for a UID alone), and the match, newest panic first.
import type { PodRecord } from "../api/kernelpanicevent.ts";
import type { KernelPanicImpact } from "../api/kernelpanicimpact.ts";
import { DNS_LABEL, DNS_SUBDOMAIN, UUID } from "../api/kube-names.ts";

export type PodQuery =
  | { readonly namespace: string; readonly name: string; readonly uid?: undefined }
  | { readonly uid: string; readonly namespace?: string; readonly name?: undefined };

/** `<namespace>/<pod>` or a pod's UID (with `namespace` to narrow the search); a clear error otherwise. */
export function parsePodQuery(text: string, namespace: string): PodQuery {
  if (UUID.test(text)) return { uid: text, ...(namespace === "" ? {} : { namespace }) };
  const [ns = "", name = "", ...rest] = text.split("/");
  if (rest.length > 0 || !DNS_LABEL.test(ns) || !DNS_SUBDOMAIN.test(name))
    throw new Error(`expected <namespace>/<pod> or a pod's UID, got ${JSON.stringify(text)}`);
  return { namespace: ns, name };
}

/** The namespace whose impacts can name the pod; "" (every namespace) for a UID alone. */
export function namespaceToRead(query: PodQuery): string {
  return query.namespace ?? "";
}

export interface PodFinding {
  readonly impact: KernelPanicImpact;
  readonly pod: PodRecord;
}

/** The impacts' records of the pod, newest panic first (a StatefulSet's pod keeps its name across panics). */
export function findPod(impacts: readonly KernelPanicImpact[], query: PodQuery): PodFinding[] {
  const found: PodFinding[] = [];
  for (const impact of impacts)
    for (const pod of impact.spec.pods) if (matches(pod, query)) found.push({ impact, pod });
  return found.sort((a, b) => b.impact.spec.panickedAt.localeCompare(a.impact.spec.panickedAt));
}

function matches(pod: PodRecord, query: PodQuery): boolean {
  if (query.uid !== undefined) return pod.uid === query.uid && (query.namespace ?? pod.namespace) === pod.namespace;
  return pod.namespace === query.namespace && pod.name === query.name;
}
