// The KernelPanicImpact custom resource: one panic as one namespace saw it — which of its pods lastgasp took, on
// which node, for which panic — without the node's console lines. Namespaced, so that the people of a namespace
// can read why their pods went (the chart can aggregate read access into the `view` role) while the cluster-scoped
// KernelPanicEvent, with every node's context, stays with the cluster's operators. Written by the reconciler,
// owned by its KernelPanicEvent (garbage-collected with it). crds/lastgasp.dev_kernelpanicimpacts.yaml.
import { GROUP, VERSION, type PodRecord } from "./kernelpanicevent.ts";

export const IMPACT_KIND = "KernelPanicImpact";
export const IMPACT_PLURAL = "kernelpanicimpacts";
export { GROUP as IMPACT_GROUP, VERSION as IMPACT_VERSION };

export interface KernelPanicImpactSpec {
  /** The KernelPanicEvent (cluster-scoped) this is a part of. */
  event: string;
  /** The Node that panicked. */
  node: string;
  /** When the panic was heard. */
  panickedAt: string;
  /** The text after `not syncing: `. */
  reason: string;
  cause?: string;
  /** The crash signature's title (`<kind> in <function>`). */
  signature?: string;
  /** This namespace's pods that lastgasp acted on (all of them done: it is written after the pods). */
  pods: PodRecord[];
  /** How many pods are listed (a printer column). */
  podCount: number;
}

export interface KernelPanicImpact {
  apiVersion: `${typeof GROUP}/${typeof VERSION}`;
  kind: typeof IMPACT_KIND;
  metadata: {
    name: string;
    namespace: string;
    uid?: string;
    labels?: Record<string, string>;
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string }[];
  };
  spec: KernelPanicImpactSpec;
}
