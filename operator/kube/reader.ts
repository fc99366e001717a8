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
  type V1Lease,
  type V1Node,
  type V1OwnerReference,
  type V1Pod,
} from "@kubernetes/client-node";
import { GROUP, PLURAL, VERSION, type KernelPanicEvent } from "../api/kernelpanicevent.ts";
import { NODE_LEASE_NAMESPACE } from "../api/keys.ts";
import type { ApiCaller } from "./caller.ts";
import { classifyError } from "./errors.ts";
import { ListWatch, type ListWatchOptions } from "./watch.ts";

const PAGE = 500;

/** A Node as its address identifies it: its name and the boot id its kubelet reports. */
export interface NodeIdentity {
  readonly node: string;
  readonly bootID: string;
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

  async listKernelPanicEvents(): Promise<{ items: KernelPanicEvent[]; resourceVersion: string }> {
    const list = (await this.caller.call(() =>
      this.objects.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL }),
    )) as {
      items: KernelPanicEvent[];
      metadata?: { resourceVersion?: string };
    };
    return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? "" };
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

  async getNode(name: string): Promise<V1Node | undefined> {
    return this.orUndefined(() => this.core.readNode({ name }));
  }

  async listNodes(): Promise<V1Node[]> {
    return this.paged((cont) =>
      this.core.listNode({ limit: PAGE, ...(cont === undefined ? {} : { _continue: cont }) }),
    );
  }

  /**
   * Every Node address, with the Node that has it (the first listed, when several do), page by page: a node cache
   * of a few bytes per address, never whole objects.
   */
  async listNodeAddresses(): Promise<Map<string, NodeIdentity>> {
    const addresses = new Map<string, NodeIdentity>();
    let cont: string | undefined;
    do {
      const page = await this.caller.call(() =>
        this.core.listNode({ limit: PAGE, ...(cont === undefined ? {} : { _continue: cont }) }),
      );
      for (const node of page.items) {
        const identity = { node: node.metadata?.name ?? "", bootID: node.status?.nodeInfo?.bootID ?? "" };
        for (const a of node.status?.addresses ?? []) if (!addresses.has(a.address)) addresses.set(a.address, identity);
      }
      cont = page.metadata?._continue === "" ? undefined : page.metadata?._continue;
    } while (cont !== undefined);
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

  private async paged<T>(
    page: (cont: string | undefined) => Promise<{ items: T[]; metadata?: { _continue?: string } }>,
  ): Promise<T[]> {
    const items: T[] = [];
    let cont: string | undefined;
    do {
      const result = await this.caller.call(() => page(cont));
      items.push(...result.items);
      cont = result.metadata?._continue === "" ? undefined : result.metadata?._continue;
    } while (cont !== undefined);
    return items;
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
