// The write floor for S3 and S2: a plain client (no lastgasp, no client-side rate limit) doing exactly the writes
// Kubernetes needs to explain and remove a panicked node's pods and the node, as fast as the API server takes
// them: per pod one status patch (Failed, the DisruptionTarget condition, the annotations) and one delete (grace
// 0, UID precondition); one Event per owner and one on the node; the node annotated and cordoned in one patch,
// then deleted. lastgasp's time is compared with it, measured in the same run on the same control plane setup.
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { performance } from "node:perf_hooks";

const strategic = setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch);
const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/** Requests in flight at once: enough that the API server, not the client, sets the pace. */
export const FLOOR_CONCURRENCY = 32;

export interface FloorNode {
  readonly name: string;
  readonly uid: string;
  readonly pods: readonly V1Pod[];
}

export interface FloorResult {
  readonly writes: number;
  /** From the first write to the last node deleted. */
  readonly allMs: number;
  /** Per node: from the first write to its node's delete. */
  readonly perNodeMs: number[];
}

/** At most `limit` calls in flight across everything that goes through it. */
function limiter(limit: number): <T>(call: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(call: () => Promise<T>): Promise<T> => {
    if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await call();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

const ANNOTATIONS = { "lastgasp.dev/reason": "KernelPanic", "lastgasp.dev/panic": "floor" };

export async function writeFloor(kc: KubeConfig, nodes: readonly FloorNode[]): Promise<FloorResult> {
  const core = kc.makeApiClient(CoreV1Api);
  const limited = limiter(FLOOR_CONCURRENCY);
  let writes = 0;
  const started = performance.now();
  const perNodeMs: number[] = [];
  const condition = { type: "DisruptionTarget", status: "True", reason: "KernelPanic", message: "floor" };
  const podWrites = async (pod: V1Pod) => {
    const { namespace = "", name = "", uid = "" } = pod.metadata ?? {};
    const body = { metadata: { annotations: ANNOTATIONS }, status: { phase: "Failed", conditions: [condition] } };
    await limited(() => core.patchNamespacedPodStatus({ namespace, name, body }, strategic));
    await limited(() =>
      core.deleteNamespacedPod({ namespace, name, body: { gracePeriodSeconds: 0, preconditions: { uid } } }),
    );
    writes += 2;
  };
  const nodeWrites = async (node: FloorNode) => {
    // The pods first (as lastgasp does: the node goes once its pods are explained), then its Events and itself.
    await Promise.all(node.pods.map(podWrites));
    const owners = new Map(node.pods.map((p) => [p.metadata?.ownerReferences?.[0]?.uid ?? "", p]));
    await Promise.all(
      [...owners.values()].map(async (pod) => {
        const owner = pod.metadata!.ownerReferences![0]!;
        const namespace = pod.metadata!.namespace!;
        await limited(() => event(core, namespace, { kind: owner.kind, name: owner.name, uid: owner.uid, namespace }));
      }),
    );
    await limited(() => event(core, "default", { kind: "Node", name: node.name, uid: node.uid }));
    const body = { metadata: { annotations: ANNOTATIONS }, spec: { unschedulable: true } };
    await limited(() => core.patchNode({ name: node.name, body }, merge));
    await limited(() => core.deleteNode({ name: node.name, body: { preconditions: { uid: node.uid } } }));
    writes += owners.size + 3;
    perNodeMs.push(performance.now() - started);
  };
  // Every node at once, as a storm arrives; FLOOR_CONCURRENCY requests in flight across them all.
  await Promise.all(nodes.map(nodeWrites));
  return { writes, allMs: Math.round(performance.now() - started), perNodeMs };
}

async function event(
  core: CoreV1Api,
  namespace: string,
  object: { kind: string; name: string; uid: string; namespace?: string },
): Promise<void> {
  const now = new Date();
  await core.createNamespacedEvent({
    namespace,
    body: {
      metadata: { generateName: `${object.name}.floor-`, namespace },
      involvedObject: object,
      type: "Warning",
      reason: "KernelPanic",
      message: "floor",
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    },
  });
}
