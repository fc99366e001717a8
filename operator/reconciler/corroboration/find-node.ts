// Which Node panicked, read as cheaply as safety allows. The node cache (node-cache.ts) proposes which Node has the
// panic's IP, as of its watch (milliseconds behind the API, as every informer-based controller's view is); that
// Node is then read fresh (one GET) and resolved again with that copy, so its labels, creation time and addresses,
// and everything after this, are the Node as it is now. Whatever else the cache says (no match, several, a
// refusal, a node gone since) or when it has nothing to say, the Nodes are listed and resolved as without it: a
// cache that lags costs a LIST; it never refuses a panic a LIST would act on.
import type { V1Node } from "@kubernetes/client-node";
import type { KernelPanicEvent } from "../../api/kernelpanicevent.ts";
import type { ClusterReader } from "../../kube/reader.ts";
import { resolveNode, type Resolution, type ResolveOptions } from "./resolve.ts";

export interface NodeFinderDeps {
  readonly reader: Pick<ClusterReader, "listNodes" | "getNode">;
  readonly nodes: { snapshot(): readonly V1Node[] | undefined };
  readonly options: ResolveOptions;
  /** Counts where each answer came from: the cache (and one GET) or a LIST. */
  readonly onLookup?: (source: NodeLookupSource) => void;
}

export type NodeLookupSource = "cache" | "list";

/** The resolution, and the Nodes it was made among (the storm guard counts the cluster from them). */
export interface FoundNode {
  readonly resolution: Resolution;
  readonly nodes: readonly V1Node[];
}

export async function findNode(event: KernelPanicEvent, deps: NodeFinderDeps): Promise<FoundNode> {
  const fromCache = await findInCache(event, deps);
  if (fromCache !== undefined) {
    deps.onLookup?.("cache");
    return fromCache;
  }
  deps.onLookup?.("list");
  const nodes = await deps.reader.listNodes();
  return { resolution: resolveNode(event, nodes, deps.options), nodes };
}

async function findInCache(event: KernelPanicEvent, deps: NodeFinderDeps): Promise<FoundNode | undefined> {
  const cached = deps.nodes.snapshot();
  if (cached === undefined) return undefined;
  const proposed = resolveNode(event, cached, deps.options);
  if (!proposed.ok) return undefined;
  const name = proposed.node.metadata?.name ?? "";
  const fresh = await deps.reader.getNode(name);
  if (fresh === undefined) return undefined;
  const nodes = cached.map((node) => (node.metadata?.name === name ? fresh : node));
  const resolution = resolveNode(event, nodes, deps.options);
  return resolution.ok ? { resolution, nodes } : undefined;
}
