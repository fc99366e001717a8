// A panicking node's workload for reconciler tests and benchmarks: Deployment, StatefulSet and Job pods pinned
// to one kwok node (spec.nodeName in the templates: no scheduler needed), plus a pod that already Succeeded.
import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Pod,
  type V1Taint,
} from "@kubernetes/client-node";
import { kwokNodeAnnotation } from "./components.ts";
import { kwokNode } from "./fixtures.ts";
import { waitFor } from "./wait.ts";

export interface Workload {
  readonly namespace: string;
  readonly nodeName: string;
  readonly ip: string;
  readonly succeededPod: string;
  readonly jobName: string;
}

export interface WorkloadSize {
  readonly deployment: number;
  readonly statefulSet: number;
  readonly job: number;
}

const container = [{ name: "main", image: "registry.k8s.io/pause:3.10" }];

/** Creates the node (kwok-managed, Ready) and its pods, and waits until all of them run. */
export async function createPanickingNodeWorkload(
  kc: KubeConfig,
  w: { namespace: string; nodeName: string; ip: string },
  size: WorkloadSize,
): Promise<Workload> {
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  await core.createNamespace({ body: { metadata: { name: w.namespace } } });
  await core.createNode({ body: kwokNode(w.nodeName, w.ip) });
  // Scheduled onto the node by its hostname label: replacements of deleted pods then wait, Pending, for a node
  // (as in a real cluster, where they would land elsewhere) instead of being bound to the dead one.
  const pin = {
    nodeSelector: { "kubernetes.io/hostname": w.nodeName },
    containers: container,
    terminationGracePeriodSeconds: 30,
  };
  const labels = (app: string) => ({ app });
  await apps.createNamespacedDeployment({
    namespace: w.namespace,
    body: {
      metadata: { name: "web" },
      spec: {
        replicas: size.deployment,
        selector: { matchLabels: labels("web") },
        template: { metadata: { labels: labels("web") }, spec: pin },
      },
    },
  });
  await apps.createNamespacedStatefulSet({
    namespace: w.namespace,
    body: {
      metadata: { name: "db" },
      spec: {
        replicas: size.statefulSet,
        podManagementPolicy: "Parallel",
        serviceName: "db",
        selector: { matchLabels: labels("db") },
        template: { metadata: { labels: labels("db") }, spec: pin },
      },
    },
  });
  const jobName = "batch";
  await kc.makeApiClient(BatchV1Api).createNamespacedJob({
    namespace: w.namespace,
    body: {
      metadata: { name: jobName },
      spec: {
        parallelism: size.job,
        completions: size.job,
        backoffLimit: 0,
        podFailurePolicy: { rules: [{ action: "Ignore", onPodConditions: [{ type: "DisruptionTarget" }] }] },
        template: { metadata: { labels: labels("batch") }, spec: { ...pin, restartPolicy: "Never" } },
      },
    },
  });
  const succeededPod = "finished";
  await core.createNamespacedPod({
    namespace: w.namespace,
    body: {
      metadata: { name: succeededPod },
      spec: { nodeName: w.nodeName, containers: container, restartPolicy: "Never" },
    },
  });
  const total = size.deployment + size.statefulSet + size.job + 1;
  await waitFor(
    async () => (await podsOn(kc, w.nodeName)).filter((p) => p.status?.phase === "Running").length === total,
    { what: `${total} Running pods on ${w.nodeName}`, timeoutMs: 120_000, intervalMs: 250 },
  );
  // client-node patches with JSON Patch by default.
  await core.patchNamespacedPodStatus({
    namespace: w.namespace,
    name: succeededPod,
    body: [{ op: "replace", path: "/status/phase", value: "Succeeded" }],
  });
  return { ...w, succeededPod, jobName };
}

export async function nodeExists(kc: KubeConfig, name: string): Promise<boolean> {
  return kc
    .makeApiClient(CoreV1Api)
    .readNode({ name })
    .then(
      () => true,
      () => false,
    );
}

/**
 * Gives the Node the boot id its kubelet would report (status.nodeInfo.bootID), as kubelets do on registering.
 * kwok writes the whole status when it initialises a node (from the object it read, boot id and all), so this
 * waits for that first (Ready), and patches again until the boot id is there.
 */
export async function setNodeBootID(kc: KubeConfig, name: string, bootID: string): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await waitFor(
    async () => {
      const node = await core.readNode({ name });
      if (node.status?.nodeInfo?.bootID === bootID) return true;
      const ready = node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;
      if (ready)
        await core.patchNodeStatus(
          { name, body: { status: { nodeInfo: { bootID } } } },
          setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
        );
      return false;
    },
    { what: `Node ${name}'s boot id`, timeoutMs: 30_000, intervalMs: 100 },
  );
}

export async function podsOn(kc: KubeConfig, nodeName: string): Promise<V1Pod[]> {
  return (await kc.makeApiClient(CoreV1Api).listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${nodeName}` }))
    .items;
}

/**
 * The node's kubelet stops acting: kwok no longer moves its pods or updates its status. (kwok still renews the
 * node's Lease: for a truly dead kubelet, give the node its own kubelet group and stop that process.)
 */
export async function stopKubelet(kc: KubeConfig, nodeName: string): Promise<void> {
  await kc.makeApiClient(CoreV1Api).patchNode({
    name: nodeName,
    body: [{ op: "remove", path: `/metadata/annotations/${kwokNodeAnnotation.key.replace("/", "~1")}` }],
  });
}

/** A kwok node with `count` bare pods bound to it, all Running. */
export async function createNodeWithPods(
  kc: KubeConfig,
  w: { namespace: string; nodeName: string; ip: string; kubelets?: string; taints?: V1Taint[] },
  count: number,
): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: w.namespace } } }).catch(() => undefined);
  const node = kwokNode(w.nodeName, w.ip, w.kubelets);
  if (w.taints !== undefined) node.spec = { taints: w.taints };
  await core.createNode({ body: node });
  for (let i = 0; i < count; i++) {
    await core.createNamespacedPod({
      namespace: w.namespace,
      body: { metadata: { name: `${w.nodeName}-${i}` }, spec: { nodeName: w.nodeName, containers: container } },
    });
  }
  await waitFor(
    async () =>
      (await podsOn(kc, w.nodeName)).filter(
        (p) => p.metadata?.namespace === w.namespace && p.status?.phase === "Running",
      ).length === count,
    { what: `${count} Running pods of ${w.namespace} on ${w.nodeName}`, timeoutMs: 60_000, intervalMs: 100 },
  );
}
