// What the operator reads from the cluster, through the same rate-limited caller as its writes. Lists are
// paged; pods are listed per node by field selector (indexed by the API server), never cached cluster-wide.
import {
  AppsV1Api,
  BatchV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type V1DaemonSet,
  type V1Job,
  type V1Lease,
  type V1Node,
  type V1OwnerReference,
  type V1Pod,
  type V1ReplicaSet,
  type V1StatefulSet,
} from "@kubernetes/client-node";
import { GROUP, PLURAL, VERSION, type KernelPanicEvent } from "../api/kernelpanicevent.ts";
import { IMPACT_PLURAL, type KernelPanicImpact } from "../api/kernelpanicimpact.ts";
import { NODE_LEASE_NAMESPACE } from "../api/keys.ts";
import type { ApiCaller } from "./caller.ts";
import { classifyError } from "./errors.ts";
import { ListWatch, type ListWatchOptions, type WatchedObject } from "./watch.ts";

/** Items per list page (client-go's pager default): no list response grows with the cluster. */
export const PAGE = 500;

/** One page of a list, as every list call answers. */
interface Page<T> {
  readonly items: T[];
  readonly metadata?: { readonly _continue?: string; readonly resourceVersion?: string };
}

/** A Node as its address identifies it: its name and the boot id its kubelet reports. */
export interface NodeIdentity {
  readonly node: string;
  readonly bootID: string;
}

/** A Node as the node cache keeps it (trimNode): a V1Node whose name is known. */
export type CachedNode = V1Node & WatchedObject;

/**
 * What the node cache keeps of a Node: its name, uid, labels, creation time and addresses (what resolving a
 * panic's IP to a Node reads), no images, conditions or managed fields. A watched Node arrives as plain JSON (its
 * creationTimestamp a string), a listed one as client-node's model (a Date): both are kept with a Date.
 */
export function trimNode(node: CachedNode): CachedNode {
  const { name, uid, resourceVersion, labels, creationTimestamp } = node.metadata;
  return {
    metadata: {
      name,
      ...(uid === undefined ? {} : { uid }),
      ...(resourceVersion === undefined ? {} : { resourceVersion }),
      ...(labels === undefined ? {} : { labels }),
      ...(creationTimestamp === undefined ? {} : { creationTimestamp: new Date(creationTimestamp) }),
    },
    status: { addresses: (node.status?.addresses ?? []).map(({ type, address }) => ({ type, address })) },
  };
}

/** A Node as the receiver's gate keeps it: its addresses and its identity, a few bytes an address. */
export interface NodeAddressEntry extends WatchedObject {
  readonly identity: NodeIdentity;
  readonly addresses: readonly string[];
}

export function addressEntry(node: V1Node): NodeAddressEntry {
  const name = node.metadata?.name ?? "";
  return {
    metadata: {
      name,
      ...(node.metadata?.resourceVersion === undefined ? {} : { resourceVersion: node.metadata.resourceVersion }),
    },
    identity: { node: name, bootID: node.status?.nodeInfo?.bootID ?? "" },
    addresses: (node.status?.addresses ?? []).map((a) => a.address),
  };
}

/** Adds a Node's addresses to an address → Node map; an address another Node has already keeps that Node. */
export function addAddresses(addresses: Map<string, NodeIdentity>, entry: NodeAddressEntry): void {
  for (const address of entry.addresses) if (!addresses.has(address)) addresses.set(address, entry.identity);
}

/**
 * A custom resource's list page: plain JSON, whose continue token is `metadata.continue` (the typed clients of
 * built-in kinds rename it `_continue`).
 */
function customPage<T>(body: unknown): Page<T> {
  const list = body as { items: T[]; metadata?: { continue?: string; resourceVersion?: string } };
  return {
    items: list.items,
    metadata: {
      ...(list.metadata?.continue === undefined ? {} : { _continue: list.metadata.continue }),
      ...(list.metadata?.resourceVersion === undefined ? {} : { resourceVersion: list.metadata.resourceVersion }),
    },
  };
}

export class ClusterReader {
  private readonly kc: KubeConfig;
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly batch: BatchV1Api;
  private readonly coordination: CoordinationV1Api;
  private readonly objects: CustomObjectsApi;
  private readonly caller: ApiCaller;

  constructor(kc: KubeConfig, caller: ApiCaller) {
    this.kc = kc;
    this.core = kc.makeApiClient(CoreV1Api);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.batch = kc.makeApiClient(BatchV1Api);
    this.coordination = kc.makeApiClient(CoordinationV1Api);
    this.objects = kc.makeApiClient(CustomObjectsApi);
    this.caller = caller;
  }

  async getKernelPanicEvent(name: string): Promise<KernelPanicEvent | undefined> {
    return this.orUndefined(
      () =>
        this.objects.getClusterCustomObject({
          group: GROUP,
          version: VERSION,
          plural: PLURAL,
          name,
        }) as Promise<KernelPanicEvent>,
    );
  }

  /**
   * Every KernelPanicEvent, page by page, and the resourceVersion to watch from: the list's snapshot (every page of
   * a paged list is read at the first page's resourceVersion).
   */
  async listKernelPanicEvents(): Promise<{ items: KernelPanicEvent[]; resourceVersion: string }> {
    const items: KernelPanicEvent[] = [];
    let resourceVersion: string | undefined;
    for await (const page of this.pages(async (cont) =>
      customPage<KernelPanicEvent>(
        await this.objects.listClusterCustomObject({
          group: GROUP,
          version: VERSION,
          plural: PLURAL,
          limit: PAGE,
          ...(cont === undefined ? {} : { _continue: cont }),
        }),
      ),
    )) {
      resourceVersion ??= page.metadata?.resourceVersion;
      items.push(...page.items);
    }
    return { items, resourceVersion: resourceVersion ?? "" };
  }

  /** The KernelPanicImpacts of one namespace (every namespace's when empty), page by page. */
  async listKernelPanicImpacts(namespace: string): Promise<KernelPanicImpact[]> {
    const items: KernelPanicImpact[] = [];
    for await (const page of this.pages(async (cont) => {
      const paging = { limit: PAGE, ...(cont === undefined ? {} : { _continue: cont }) };
      const where = { group: GROUP, version: VERSION, plural: IMPACT_PLURAL, ...paging };
      return customPage<KernelPanicImpact>(
        namespace === ""
          ? await this.objects.listCustomObjectForAllNamespaces({ ...where, resourcePlural: IMPACT_PLURAL })
          : await this.objects.listNamespacedCustomObject({ ...where, namespace }),
      );
    }))
      items.push(...page.items);
    return items;
  }

  /** Lists the KernelPanicEvents, then watches them (not started: call start()). */
  watchKernelPanicEvents(
    options: Pick<ListWatchOptions<KernelPanicEvent>, "onObject" | "onRestart" | "resyncMs">,
  ): ListWatch<KernelPanicEvent> {
    return new ListWatch<KernelPanicEvent>(this.kc, this.caller, {
      ...options,
      path: `/apis/${GROUP}/${VERSION}/${PLURAL}`,
      list: () => this.listKernelPanicEvents(),
    });
  }

  async getDaemonSet(namespace: string, name: string): Promise<V1DaemonSet | undefined> {
    return this.orUndefined(() => this.apps.readNamespacedDaemonSet({ namespace, name }));
  }

  /**
   * The controller of a ReplicaSet (its Deployment) or of a Job (its CronJob): undefined when it has none, is gone,
   * or is of another kind.
   */
  async getController(
    kind: "ReplicaSet" | "Job",
    namespace: string,
    name: string,
  ): Promise<V1OwnerReference | undefined> {
    const object =
      kind === "ReplicaSet"
        ? await this.orUndefined(() => this.apps.readNamespacedReplicaSet({ namespace, name }))
        : await this.orUndefined(() => this.batch.readNamespacedJob({ namespace, name }));
    return object?.metadata?.ownerReferences?.find((o) => o.controller === true);
  }

  /** A pod by name: what took a deleted pod's name (a StatefulSet's replacement), or the pod itself. */
  async getPod(namespace: string, name: string): Promise<V1Pod | undefined> {
    return this.orUndefined(() => this.core.readNamespacedPod({ namespace, name }));
  }

  /** A pod's controller as it is now (what replaced or retried the pods a panic took). */
  async getWorkload(
    kind: "ReplicaSet" | "StatefulSet" | "Job",
    namespace: string,
    name: string,
  ): Promise<V1ReplicaSet | V1StatefulSet | V1Job | undefined> {
    if (kind === "ReplicaSet") return this.orUndefined(() => this.apps.readNamespacedReplicaSet({ namespace, name }));
    if (kind === "StatefulSet") return this.orUndefined(() => this.apps.readNamespacedStatefulSet({ namespace, name }));
    return this.orUndefined(() => this.batch.readNamespacedJob({ namespace, name }));
  }

  async getNode(name: string): Promise<V1Node | undefined> {
    return this.orUndefined(() => this.core.readNode({ name }));
  }

  async listNodes(): Promise<V1Node[]> {
    return this.paged((cont) =>
      this.core.listNode({ limit: PAGE, ...(cont === undefined ? {} : { _continue: cont }) }),
    );
  }

  /**
   * Lists the Nodes, then watches them (not started: call start()). The cache keeps each Node trimmed to what
   * finding a panicked node reads (trimNode), page by page: thousands of Nodes' images and conditions are never held.
   */
  watchNodes(options: Pick<ListWatchOptions<CachedNode>, "onRestart" | "resyncMs">): ListWatch<CachedNode> {
    return this.watchNodesKept(options, (node) => trimNode(node as CachedNode));
  }

  /**
   * The Nodes, each kept as its addresses and identity only (NodeAddressEntry), listed then watched (not started:
   * call start()): the receiver's gate knows a node that joined within moments, without listing every Node.
   */
  watchNodeAddresses(
    options: Pick<ListWatchOptions<NodeAddressEntry>, "onRestart" | "resyncMs">,
  ): ListWatch<NodeAddressEntry> {
    return this.watchNodesKept(options, addressEntry);
  }

  /** A Node watch whose cache holds `keep` of each Node, listed and watched alike, a page at a time. */
  private watchNodesKept<T extends WatchedObject>(
    options: Pick<ListWatchOptions<T>, "onRestart" | "resyncMs">,
    keep: (node: V1Node) => T,
  ): ListWatch<T> {
    return new ListWatch<T>(this.kc, this.caller, {
      ...options,
      path: "/api/v1/nodes",
      onObject: () => {},
      fromWatch: (object) => keep(object as V1Node),
      list: async () => {
        const items: T[] = [];
        let resourceVersion: string | undefined;
        for await (const page of this.pages((cont) =>
          this.core.listNode({ limit: PAGE, ...(cont === undefined ? {} : { _continue: cont }) }),
        )) {
          resourceVersion ??= page.metadata?.resourceVersion;
          for (const node of page.items) items.push(keep(node));
        }
        return { items, resourceVersion: resourceVersion ?? "" };
      },
    });
  }

  /**
   * Every Node address, with the Node that has it (the first listed, when several do), page by page: a node cache
   * of a few bytes per address, never whole objects.
   */
  async listNodeAddresses(): Promise<Map<string, NodeIdentity>> {
    const addresses = new Map<string, NodeIdentity>();
    for await (const page of this.pages((cont) =>
      this.core.listNode({ limit: PAGE, ...(cont === undefined ? {} : { _continue: cont }) }),
    )) {
      for (const node of page.items) addAddresses(addresses, addressEntry(node));
    }
    return addresses;
  }

  async listPodsOnNode(nodeName: string): Promise<V1Pod[]> {
    const fieldSelector = `spec.nodeName=${nodeName}`;
    return this.paged((cont) =>
      this.core.listPodForAllNamespaces({
        fieldSelector,
        limit: PAGE,
        ...(cont === undefined ? {} : { _continue: cont }),
      }),
    );
  }

  async getNodeLease(nodeName: string): Promise<V1Lease | undefined> {
    return this.orUndefined(() =>
      this.coordination.readNamespacedLease({ namespace: NODE_LEASE_NAMESPACE, name: nodeName }),
    );
  }

  private async paged<T>(page: (cont: string | undefined) => Promise<Page<T>>): Promise<T[]> {
    const items: T[] = [];
    for await (const result of this.pages(page)) items.push(...result.items);
    return items;
  }

  /** The pages of one list, each through the caller, following the continue token to the last. */
  private async *pages<T>(page: (cont: string | undefined) => Promise<Page<T>>): AsyncGenerator<Page<T>> {
    let cont: string | undefined;
    do {
      const result = await this.caller.call(() => page(cont));
      yield result;
      cont = result.metadata?._continue === "" ? undefined : result.metadata?._continue;
    } while (cont !== undefined);
  }

  private async orUndefined<T>(request: () => Promise<T>): Promise<T | undefined> {
    try {
      return await this.caller.call(request);
    } catch (err) {
      if (classifyError(err).class === "NotFound") return undefined;
      throw err;
    }
  }
}
