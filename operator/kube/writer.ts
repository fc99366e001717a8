// The adapter through which every write to the cluster goes. Each write is idempotent (deterministic names,
// AlreadyExists = done, 404 on delete = done, UID preconditions) and rate-limited; writes that remediate (pods
// and nodes) honour dry-run by asking the API server to validate them without persisting (dryRun=All).
// The record of what happened (KernelPanicEvents, their status, Events) is always written: it is what dry-run
// reports with.
import {
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type CoreV1Event,
  type KubeConfig,
  type V1Taint,
} from "@kubernetes/client-node";
import { createHash } from "node:crypto";
import { GROUP, PLURAL, VERSION, type KernelPanicEvent, type KernelPanicEventStatus } from "../api/kernelpanicevent.ts";
import { IMPACT_PLURAL, type KernelPanicImpact } from "../api/kernelpanicimpact.ts";
import type { ApiCaller } from "./caller.ts";
import { classifyError } from "./errors.ts";

export type CreateResult = "created" | "exists";
export type DeleteResult = "deleted" | "gone" | "replaced";

export interface ObjectRef {
  /** Pod, Node, KernelPanicEvent, or a pod's owner (ReplicaSet, StatefulSet, Job, …). */
  readonly kind: string;
  readonly apiVersion: string;
  readonly name: string;
  readonly namespace?: string;
  readonly uid?: string;
}

/** Conflicts from concurrent updates are short-lived; a few attempts settle them. */
const MAX_CONFLICT_RETRIES = 5;

export interface NodeConditionPatch {
  readonly type: string;
  readonly status: "True" | "False" | "Unknown";
  readonly reason: string;
  readonly message: string;
  readonly lastTransitionTime: string;
  readonly lastHeartbeatTime: string;
}

const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
const strategic = setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch);

export class ClusterWriter {
  readonly dryRun: boolean;
  private readonly core: CoreV1Api;
  private readonly objects: CustomObjectsApi;
  private readonly caller: ApiCaller;
  private readonly component: string;

  /** The timestamps it writes come from the caller's clock. */
  constructor(kc: KubeConfig, caller: ApiCaller, options: { dryRun: boolean; component: string }) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.objects = kc.makeApiClient(CustomObjectsApi);
    this.caller = caller;
    this.dryRun = options.dryRun;
    this.component = options.component;
  }

  /** Another receiver having created the same (deterministically named) event already is success. */
  async createKernelPanicEvent(event: KernelPanicEvent): Promise<CreateResult> {
    return this.create(() =>
      this.objects.createClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, body: event }),
    );
  }

  /** The reconciler owns the whole status; a merge patch of it is idempotent. */
  async patchKernelPanicEventStatus(name: string, status: KernelPanicEventStatus): Promise<void> {
    await this.caller.call(() =>
      this.objects.patchClusterCustomObjectStatus(
        { group: GROUP, version: VERSION, plural: PLURAL, name, body: { status } },
        merge,
      ),
    );
  }

  /**
   * One namespace's part of a panic (its pods), in that namespace; already there is success. Honours dry-run: it
   * lands in the users' namespaces, not in lastgasp's own record.
   */
  async createKernelPanicImpact(impact: KernelPanicImpact): Promise<CreateResult> {
    return this.create(() =>
      this.objects.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural: IMPACT_PLURAL,
        namespace: impact.metadata.namespace,
        body: impact,
        ...this.dryRunParam(),
      }),
    );
  }

  async deleteKernelPanicEvent(name: string, uid: string): Promise<DeleteResult> {
    return this.remove(() =>
      this.objects.deleteClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        name,
        body: { preconditions: { uid } },
      }),
    );
  }

  /**
   * Marks a pod Failed the way Kubernetes' PodGC does (status subresource: phase Failed plus a DisruptionTarget
   * condition), annotating it in the same request.
   */
  async failPod(
    namespace: string,
    name: string,
    annotations: Record<string, string>,
    condition: Record<string, string>,
  ): Promise<void> {
    const body = { metadata: { annotations }, status: { phase: "Failed", conditions: [condition] } };
    await this.caller.call(() =>
      this.core.patchNamespacedPodStatus({ namespace, name, body, ...this.dryRunParam() }, strategic),
    );
  }

  async annotatePod(namespace: string, name: string, annotations: Record<string, string>): Promise<void> {
    await this.caller.call(() =>
      this.core.patchNamespacedPod(
        { namespace, name, body: { metadata: { annotations } }, ...this.dryRunParam() },
        merge,
      ),
    );
  }

  /** Grace 0 with a UID precondition: a replacement with the same name (StatefulSet) is never touched. */
  async deletePod(namespace: string, name: string, uid: string): Promise<DeleteResult> {
    // With a DeleteOptions body the API server ignores query parameters: grace and dry-run go in the body.
    const remove = () =>
      this.core.deleteNamespacedPod({
        namespace,
        name,
        body: { gracePeriodSeconds: 0, preconditions: { uid }, ...this.dryRunBody() },
      });
    const current = async () => {
      const pod = await this.core.readNamespacedPod({ namespace, name });
      return { uid: pod.metadata?.uid, deleting: pod.metadata?.deletionTimestamp !== undefined };
    };
    return this.remove(remove, current, uid);
  }

  /**
   * Annotates the node and, with `cordon`, marks it unschedulable as `kubectl cordon` does: one merge patch, so
   * that marking a panicked node costs one request.
   */
  /** Sets annotations (a null value removes one: a merge patch). */
  async annotateNode(
    name: string,
    annotations: Record<string, string | null>,
    options: { cordon?: boolean } = {},
  ): Promise<void> {
    const body = { metadata: { annotations }, ...(options.cordon === true ? { spec: { unschedulable: true } } : {}) };
    await this.caller.call(() => this.core.patchNode({ name, body, ...this.dryRunParam() }, merge));
  }

  /** Makes the node schedulable again (a remediation interrupted, its node alive after all). */
  async uncordonNode(name: string): Promise<void> {
    const body = { spec: { unschedulable: false } };
    await this.caller.call(() => this.core.patchNode({ name, body, ...this.dryRunParam() }, merge));
  }

  /** Sets one condition in the node's status (merged by type: the kubelet's own conditions are untouched). */
  async setNodeCondition(name: string, condition: NodeConditionPatch): Promise<void> {
    const body = { status: { conditions: [condition] } };
    await this.caller.call(() => this.core.patchNodeStatus({ name, body, ...this.dryRunParam() }, strategic));
  }

  async deleteNode(name: string, uid: string): Promise<DeleteResult> {
    return this.remove(
      () => this.core.deleteNode({ name, body: { preconditions: { uid }, ...this.dryRunBody() } }),
      async () => {
        const node = await this.core.readNode({ name });
        return { uid: node.metadata?.uid, deleting: node.metadata?.deletionTimestamp !== undefined };
      },
      uid,
    );
  }

  /**
   * Adds a taint unless the node has it. Taints are replaced as a whole list by any patch, so the patch carries
   * the resourceVersion it was computed from (a concurrent change fails with Conflict instead of being lost) and
   * is recomputed from a fresh read on Conflict.
   */
  async addNodeTaint(name: string, taint: V1Taint): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const node = await this.caller.call(() => this.core.readNode({ name }));
      const taints = node.spec?.taints ?? [];
      if (taints.some((t) => t.key === taint.key && t.effect === taint.effect)) return;
      try {
        await this.patchTaints(name, node.metadata?.resourceVersion ?? "", [...taints, taint]);
        return;
      } catch (err) {
        if (classifyError(err).class !== "Conflict" || attempt >= MAX_CONFLICT_RETRIES) throw err;
      }
    }
  }

  private async patchTaints(name: string, resourceVersion: string, taints: V1Taint[]): Promise<void> {
    await this.caller.call(() =>
      this.core.patchNode(
        { name, body: { metadata: { resourceVersion }, spec: { taints } }, ...this.dryRunParam() },
        merge,
      ),
    );
  }

  /** A Kubernetes Event, named deterministically so that a retried reconcile does not repeat it. */
  async recordEvent(object: ObjectRef, type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
    const namespace = object.namespace ?? "default";
    const suffix = createHash("sha256")
      .update(`${object.uid ?? ""}/${reason}/${message}`)
      .digest("hex")
      .slice(0, 16);
    const now = this.caller.clock.now();
    const event: CoreV1Event = {
      metadata: { name: `${object.name}.${suffix}`, namespace },
      involvedObject: {
        kind: object.kind,
        apiVersion: object.apiVersion,
        name: object.name,
        ...(object.namespace === undefined ? {} : { namespace: object.namespace }),
        ...(object.uid === undefined ? {} : { uid: object.uid }),
      },
      type,
      reason,
      message,
      source: { component: this.component },
      reportingComponent: `lastgasp.dev/${this.component}`,
      reportingInstance: this.component,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    await this.create(() => this.core.createNamespacedEvent({ namespace, body: event }));
  }

  private async create(request: () => Promise<unknown>): Promise<CreateResult> {
    try {
      await this.caller.call(request);
      return "created";
    } catch (err) {
      if (classifyError(err).class === "AlreadyExists") return "exists";
      throw err;
    }
  }

  /**
   * Deletes with a UID precondition. 409 Conflict means either that the precondition failed (the object of
   * that name is a replacement, not ours) or that someone updated the object while the API server set its
   * deletion timestamp (a Job controller removing its finalizer): the current object tells which.
   */
  private async remove(
    request: () => Promise<unknown>,
    current?: () => Promise<{ uid: string | undefined; deleting: boolean }>,
    expectedUid?: string,
  ): Promise<DeleteResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.caller.call(request);
        return "deleted";
      } catch (err) {
        const error = classifyError(err);
        if (error.class === "NotFound") return "gone";
        if (error.class !== "Conflict" || current === undefined) throw err;
        const now = await this.caller.call(current).catch((e: unknown) => {
          if (classifyError(e).class === "NotFound") return undefined;
          throw e;
        });
        if (now === undefined) return "gone";
        if (expectedUid !== undefined && now.uid !== expectedUid) return "replaced";
        if (now.deleting) return "deleted";
        if (attempt >= MAX_CONFLICT_RETRIES) throw err;
      }
    }
  }

  private dryRunParam(): { dryRun?: string } {
    return this.dryRun ? { dryRun: "All" } : {};
  }

  private dryRunBody(): { dryRun?: string[] } {
    return this.dryRun ? { dryRun: ["All"] } : {};
  }
}
