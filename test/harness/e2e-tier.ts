// What the real-node tier (test/e2e) shares: a control plane that pods reach as in any cluster (the apiserver on
// the tier's address behind the `kubernetes` Service, ServiceAccount admission and the token controller on, a
// scheduler and the controllers), one real node (RealNode) holding the images built here, Helm, and kwok for the
// guests' Nodes (a QEMU guest is a kernel, not a kubelet). Runs inside hack/in-netns.sh --node.
import { CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { ensureBinaries, required } from "./binaries.ts";
import { ControlPlane } from "./controlplane.ts";
import { tierNetwork, type TierNetwork } from "./guests.ts";
import { RealNode } from "./real-node.ts";
import { waitFor } from "./wait.ts";

const exec = promisify(execFile);

export interface E2eTier {
  readonly net: TierNetwork;
  readonly plane: ControlPlane;
  readonly kc: KubeConfig;
  readonly node: RealNode;
  helm(...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

export async function startE2eTier(images: readonly string[]): Promise<E2eTier> {
  const net = tierNetwork();
  const helmBinary = required(await ensureBinaries(["helm"]), "HELM");
  const plane = await ControlPlane.start({
    controllerManager: true,
    scheduler: true,
    kwok: true,
    apiserver: { address: net.hostIp, serviceAccounts: true },
  });
  const kc = plane.adminKubeConfig();
  let node: RealNode;
  try {
    node = await RealNode.start(kc, plane.kubeconfigPath, net.hostIp, images);
  } catch (err) {
    await plane.stop();
    throw err;
  }
  return {
    net,
    plane,
    kc,
    node,
    helm: async (...args) =>
      (await exec(helmBinary, [...args, "--kubeconfig", plane.kubeconfigPath], { maxBuffer: 16 << 20 })).stdout,
    stop: async () => {
      await node.stop();
      await plane.stop();
    },
  };
}

/**
 * What a load-balancer controller (MetalLB, a cloud's) does for a LoadBalancer Service: publish its address in
 * the Service's status. kube-proxy then forwards that address to the ready endpoints, keeping the client's source
 * with externalTrafficPolicy Local, as the chart asks.
 */
export async function publishLoadBalancer(kc: KubeConfig, namespace: string, name: string, ip: string): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const service = await core.readNamespacedService({ namespace, name });
  service.status = { loadBalancer: { ingress: [{ ip, ipMode: "VIP" }] } };
  await core.replaceNamespacedServiceStatus({ namespace, name, body: service });
}

/**
 * The pods matching `selector` (on `nodeName` only, when given), once exactly `count` of them are Ready and none
 * is being deleted.
 */
export async function readyPods(
  tier: E2eTier,
  namespace: string,
  selector: string,
  count: number,
  nodeName?: string,
): Promise<V1Pod[]> {
  const core = tier.kc.makeApiClient(CoreV1Api);
  return diagnosed(
    tier,
    namespace,
    waitFor(
      async () => {
        const fieldSelector = nodeName === undefined ? undefined : `spec.nodeName=${nodeName}`;
        const pods = (await core.listNamespacedPod({ namespace, labelSelector: selector, fieldSelector })).items;
        const ready = pods.filter(
          (p) =>
            p.metadata?.deletionTimestamp === undefined &&
            p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
        );
        return ready.length === count && pods.length === count ? ready : undefined;
      },
      { what: `${count} Ready pods ${selector} in ${namespace}`, timeoutMs: 180_000, intervalMs: 500 },
    ),
  );
}

/** `wait`, or its error with what the namespace's pods and events say (a failed wait is read from CI's log). */
export async function diagnosed<T>(tier: E2eTier, namespace: string, wait: Promise<T>): Promise<T> {
  try {
    return await wait;
  } catch (err) {
    const core = tier.kc.makeApiClient(CoreV1Api);
    const pods = (await core.listNamespacedPod({ namespace })).items.map((p) => ({
      name: p.metadata?.name,
      phase: p.status?.phase,
      deleting: p.metadata?.deletionTimestamp !== undefined,
      conditions: p.status?.conditions?.map((c) => `${c.type}=${c.status}${c.message ? ` (${c.message})` : ""}`),
      containers: p.status?.containerStatuses?.map((c) => ({
        restarts: c.restartCount,
        state: c.state,
        last: c.lastState?.terminated,
      })),
    }));
    const events = (await core.listNamespacedEvent({ namespace })).items
      .slice(-20)
      .map((e) => `${e.involvedObject.name}: ${e.reason}: ${e.message}`);
    (err as Error).message +=
      `\npods: ${JSON.stringify(pods, null, 1)}\nevents:\n${events.join("\n")}\nlogs:\n${tier.node.logTails(namespace)}`;
    throw err;
  }
}

/** A namespace whose pods the ServiceAccount admission plugin admits: its `default` ServiceAccount exists. */
export async function namespaceWithServiceAccount(kc: KubeConfig, name: string): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name } } });
  await waitFor(() => core.readNamespacedServiceAccount({ namespace: name, name: "default" }), {
    what: `the default ServiceAccount of ${name}`,
  });
}

/**
 * A second build of `image`: the same layers with one more label, committed as `tag` (a new image ID, as a new
 * release would be), so `helm upgrade` to it rolls every pod.
 */
export async function secondBuild(image: string, tag: string): Promise<void> {
  const { stdout } = await exec("buildah", ["from", "--pull=never", image]);
  const container = stdout.trim();
  try {
    await exec("buildah", ["config", "--label", `dev.lastgasp.build=${tag}`, container]);
    await exec("buildah", ["commit", "--quiet", container, tag]);
  } finally {
    await exec("buildah", ["rm", container]);
  }
}
