// Cluster set-up for the benchmarks: many Nodes and pods created fast (bounded concurrency), and watches that
// timestamp what happens to them.
import {
  CoreV1Api,
  Watch,
  type KubeConfig,
  type V1Node,
  type V1OwnerReference,
  type V1Pod,
} from "@kubernetes/client-node";
import { performance } from "node:perf_hooks";
import { forEachLimit } from "../../operator/concurrency.ts";
import { kwokNode } from "../../test/harness/fixtures.ts";
import { waitFor } from "../../test/harness/wait.ts";

export const RUN_LABEL = "bench.lastgasp.dev/scenario";

export interface BenchNode {
  readonly name: string;
  readonly ip: string;
  /** kwok group simulating its kubelet; none for a Node that is only an API object. */
  readonly kubelets?: string;
}

const pause = [{ name: "main", image: "registry.k8s.io/pause:3.10" }];

export async function ensureNamespace(kc: KubeConfig, name: string): Promise<void> {
  await kc
    .makeApiClient(CoreV1Api)
    .createNamespace({ body: { metadata: { name } } })
    .catch((err: unknown) => {
      if ((err as { code?: number }).code !== 409) throw err;
    });
}

export function benchNode(node: BenchNode, scenario: string): V1Node {
  const base = kwokNode(node.name, node.ip, node.kubelets);
  if (node.kubelets === undefined) delete base.metadata!.annotations;
  base.metadata!.labels = { ...base.metadata!.labels, [RUN_LABEL]: scenario };
  return base;
}

/** Creates the nodes, then `podsPerNode` pods bound to each (spec.nodeName: no scheduler involved). */
export async function createNodesWithPods(
  kc: KubeConfig,
  options: { scenario: string; namespace: string; nodes: readonly BenchNode[]; podsPerNode: number },
): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await ensureNamespace(kc, options.namespace);
  await forEachLimit(options.nodes, 16, (node) => core.createNode({ body: benchNode(node, options.scenario) }));
  const owners = await ensureOwners(kc, options.namespace, options.scenario);
  const pods = options.nodes.flatMap((node) =>
    Array.from({ length: options.podsPerNode }, (_, i): V1Pod => benchPod(node.name, i, options.scenario, owners)),
  );
  await forEachLimit(pods, 32, (body) => core.createNamespacedPod({ namespace: options.namespace, body }));
}

/** Workloads per node: a node's pods belong to this many owners, as on a real node. */
const OWNERS = 10;

/**
 * The pods' owners: one object per workload, so that a node's pods group by owner as a real node's do (one Event
 * per owner). ConfigMaps, not ReplicaSets: the garbage collector keeps the pods (their owner exists) and no
 * controller manages or recreates them, so the figures are lastgasp's work alone. One set per scenario: S2 runs
 * one node at a time, each with pods created after the previous one's panic, which is a cascade of the same
 * workloads to lastgasp (and its third node would wait for approval); its nodes are independent panics.
 */
async function ensureOwners(kc: KubeConfig, namespace: string, scenario: string): Promise<V1OwnerReference[]> {
  const core = kc.makeApiClient(CoreV1Api);
  return Promise.all(
    Array.from({ length: OWNERS }, async (_, i) => {
      const name = `${scenario.toLowerCase()}-app-${i}`;
      const existing = await core.readNamespacedConfigMap({ namespace, name }).catch(() => undefined);
      const owner = existing ?? (await core.createNamespacedConfigMap({ namespace, body: { metadata: { name } } }));
      return { apiVersion: "v1", kind: "ConfigMap", name, uid: owner.metadata!.uid!, controller: true };
    }),
  );
}

function benchPod(nodeName: string, i: number, scenario: string, owners: readonly V1OwnerReference[]): V1Pod {
  const owner = owners[i % owners.length]!;
  return {
    metadata: {
      name: `${nodeName}-${i}`,
      labels: { [RUN_LABEL]: scenario, app: owner.name },
      ownerReferences: [owner],
    },
    spec: { nodeName, containers: pause, terminationGracePeriodSeconds: 30 },
  };
}

/** Waits until `count` pods of the scenario are Running (kwok made them so). */
export async function waitRunning(kc: KubeConfig, scenario: string, count: number, timeoutMs = 300_000) {
  const core = kc.makeApiClient(CoreV1Api);
  await waitFor(
    async () => {
      const pods = await core.listPodForAllNamespaces({ labelSelector: `${RUN_LABEL}=${scenario}` });
      return pods.items.filter((p) => p.status?.phase === "Running").length >= count;
    },
    { what: `${count} Running pods`, timeoutMs, intervalMs: 500 },
  );
}

export type WatchHandler<T> = (type: string, object: T, atMs: number) => void;

interface Versioned {
  readonly metadata?: { readonly resourceVersion?: string };
}

/**
 * Watches `path` from resourceVersion 0: the objects that exist arrive first as ADDED, so no change is missed
 * between set-up and the watch. Every event is stamped with performance.now() on arrival. When the apiserver
 * ends the watch (it closes watchers that fall behind a burst), it resumes from the last resourceVersion seen.
 * Retried while the apiserver answers 429 (the watch cache of a just-created resource type is initialising).
 */
export async function watchFrom<T extends Versioned>(
  kc: KubeConfig,
  path: string,
  query: Record<string, string>,
  handler: WatchHandler<T>,
): Promise<{ stop: () => void }> {
  let resourceVersion = "0";
  let stopped = false;
  let failure: unknown;
  let controller: AbortController | undefined;
  const onEvent = (type: string, object: T) => {
    if (type === "ERROR") failure = new Error(`watch of ${path}: ${JSON.stringify(object)}`);
    else handler(type, object, performance.now());
    resourceVersion = object.metadata?.resourceVersion ?? resourceVersion;
  };
  const open = async (): Promise<void> => {
    controller = await waitFor(
      () =>
        new Watch(kc).watch(path, { resourceVersion, allowWatchBookmarks: "true", ...query }, onEvent, () => {
          if (!stopped && failure === undefined) open().catch((err: unknown) => (failure = err));
        }),
      { what: `a watch of ${path}`, timeoutMs: 20_000 },
    );
  };
  await open();
  return {
    stop: () => {
      stopped = true;
      controller?.abort();
      if (failure !== undefined) throw failure instanceof Error ? failure : new Error(JSON.stringify(failure));
    },
  };
}
