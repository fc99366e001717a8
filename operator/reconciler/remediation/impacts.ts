// One KernelPanicImpact per namespace whose pods a remediation took: the namespace's own, readable copy of why its
// pods went (the KernelPanicEvent is cluster-scoped and carries every node's console lines). Written after the
// pods, owned by the event (garbage-collected with it), created once: already there is success.
import { API_VERSION, KIND, type KernelPanicEvent, type PodRecord } from "../../api/kernelpanicevent.ts";
import { IMPACT_KIND, type KernelPanicImpact } from "../../api/kernelpanicimpact.ts";
import { forEachLimit } from "../../concurrency.ts";
import type { ClusterWriter } from "../../kube/writer.ts";

export interface ImpactDeps {
  readonly writer: Pick<ClusterWriter, "createKernelPanicImpact">;
  readonly options: { readonly podConcurrency: number };
}

/** The impacts of `event` on the namespaces of `pods`, one each, named after the event. */
export function impactsOf(event: KernelPanicEvent, nodeName: string, pods: readonly PodRecord[]): KernelPanicImpact[] {
  const byNamespace = new Map<string, PodRecord[]>();
  for (const pod of pods) byNamespace.set(pod.namespace, [...(byNamespace.get(pod.namespace) ?? []), pod]);
  return [...byNamespace].map(([namespace, those]) => ({
    apiVersion: API_VERSION,
    kind: IMPACT_KIND,
    metadata: {
      name: event.metadata.name,
      namespace,
      ...(event.metadata.uid === undefined
        ? {}
        : {
            ownerReferences: [
              { apiVersion: API_VERSION, kind: KIND, name: event.metadata.name, uid: event.metadata.uid },
            ],
          }),
    },
    spec: {
      event: event.metadata.name,
      node: nodeName,
      panickedAt: event.spec.detectedTime,
      reason: event.spec.reason,
      ...(event.spec.cause === undefined ? {} : { cause: event.spec.cause }),
      ...(event.spec.signature === undefined ? {} : { signature: event.spec.signature.title }),
      pods: those,
      podCount: those.length,
    },
  }));
}

/** Creates the impacts (a few at a time); idempotent. */
export async function recordImpacts(
  event: KernelPanicEvent,
  nodeName: string,
  pods: readonly PodRecord[],
  deps: ImpactDeps,
): Promise<void> {
  await forEachLimit(impactsOf(event, nodeName, pods), deps.options.podConcurrency, async (impact) => {
    await deps.writer.createKernelPanicImpact(impact);
  });
}
