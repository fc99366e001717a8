// Which KernelPanicEvents name a pod, for `lastgasp why`: the question (a pod by namespace/name, or by UID), the
// label selectors that find the candidate events without listing every event (the namespace labels the reconciler
// writes, pod-records.ts), and the match in each event's status.pods, newest panic first.
import type { KernelPanicEvent, PodRecord } from "../api/kernelpanicevent.ts";
import { LABELS, NAMESPACE_LABEL_PREFIX } from "../api/keys.ts";

export type PodQuery =
  | { readonly namespace: string; readonly name: string; readonly uid?: undefined }
  | { readonly uid: string; readonly namespace?: string; readonly name?: undefined };

const UID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** `<namespace>/<pod>` or a pod's UID (with `namespace` to narrow the search); a clear error otherwise. */
export function parsePodQuery(text: string, namespace: string): PodQuery {
  if (UID.test(text)) return { uid: text, ...(namespace === "" ? {} : { namespace }) };
  const [ns = "", name = "", ...rest] = text.split("/");
  if (rest.length > 0 || !DNS_LABEL.test(ns) || !DNS_SUBDOMAIN.test(name))
    throw new Error(`expected <namespace>/<pod> or a pod's UID, got ${JSON.stringify(text)}`);
  return { namespace: ns, name };
}

/**
 * The label selectors whose events can name the pod: its namespace's label and the events with more namespaces
 * than labels. Undefined (every event) for a UID without a namespace: nothing indexes UIDs.
 */
export function candidateSelectors(query: PodQuery): string[] | undefined {
  if (query.namespace === undefined) return undefined;
  return [`${NAMESPACE_LABEL_PREFIX}${query.namespace}=true`, `${LABELS.manyNamespaces}=true`];
}

export interface PodFinding {
  readonly event: KernelPanicEvent;
  readonly pod: PodRecord;
}

/** The events' records of the pod, newest panic first (a StatefulSet's pod keeps its name across panics). */
export function findPod(events: readonly KernelPanicEvent[], query: PodQuery): PodFinding[] {
  const seen = new Set<string>();
  const found: PodFinding[] = [];
  for (const event of events) {
    if (seen.has(event.metadata.name)) continue;
    seen.add(event.metadata.name);
    for (const pod of event.status?.pods ?? []) if (matches(pod, query)) found.push({ event, pod });
  }
  return found.sort((a, b) => b.event.spec.detectedTime.localeCompare(a.event.spec.detectedTime));
}

function matches(pod: PodRecord, query: PodQuery): boolean {
  if (query.uid !== undefined) return pod.uid === query.uid && (query.namespace ?? pod.namespace) === pod.namespace;
  return pod.namespace === query.namespace && pod.name === query.name;
}

/** Events that acted on more pods than they list (podsNotListed): a miss among them is not conclusive. */
export function eventsWithUnlistedPods(events: readonly KernelPanicEvent[]): KernelPanicEvent[] {
  return events.filter((e) => (e.status?.podsNotListed ?? 0) > 0);
}
