// An in-memory cluster behind reconcile's narrow reader and writer interfaces, for the table-driven unit test
// of reconcile's outcomes (test/unit/reconcile.test.ts). It keeps what is written and nothing more: what the API
// server itself does (field selectors, preconditions, dry run) is the integration tests' job.
/* eslint-disable @typescript-eslint/require-await -- it answers at once, behind the async interfaces */
import type { V1Lease, V1Node, V1OwnerReference, V1Pod } from "@kubernetes/client-node";
import type { KernelPanicEvent, KernelPanicEventStatus } from "../../operator/api/kernelpanicevent.ts";
import type { KernelPanicImpact } from "../../operator/api/kernelpanicimpact.ts";
import { OUT_OF_SERVICE_TAINT } from "../../operator/api/keys.ts";
import type { NodeConditionPatch } from "../../operator/kube/writer.ts";
import type { ReconcileReader, ReconcileWriter } from "../../operator/reconciler/reconcile.ts";

/** The cluster as reconcile sees it through its reader, changed only by what it writes. */
export class Store implements ReconcileReader, ReconcileWriter {
  dryRun = false;
  readonly events = new Map<string, KernelPanicEvent>();
  nodes: V1Node[] = [];
  readonly pods = new Map<string, V1Pod>();
  readonly leases = new Map<string, V1Lease>();
  /** "ReplicaSet/namespace/name" → its controller (a Deployment), "Job/…" → its CronJob. */
  readonly controllers = new Map<string, V1OwnerReference>();
  /** Every write, in order: "verb target". */
  readonly writes: string[] = [];
  /** A write that fails once (the reconciler "crashes" there), e.g. "deletePod default/p1". */
  failOnce: string | undefined;
  /** With failOnce: how many matching writes succeed before the one that fails. */
  failOnceAfter = 0;

  private write(entry: string): void {
    if (entry === this.failOnce && this.failOnceAfter-- <= 0) {
      this.failOnce = undefined;
      this.failOnceAfter = 0;
      throw Object.assign(new Error(`injected failure at ${entry}`), { code: 503 });
    }
    const own = entry.startsWith("status") || entry.startsWith("event");
    this.writes.push(this.dryRun && !own ? `dry ${entry}` : entry);
  }

  async getKernelPanicEvent(name: string) {
    return structuredClone(this.events.get(name));
  }
  async listKernelPanicEvents() {
    return { items: structuredClone([...this.events.values()]), resourceVersion: "1" };
  }
  async listNodes() {
    return structuredClone(this.nodes);
  }
  async getNode(name: string) {
    return structuredClone(this.nodes.find((n) => n.metadata?.name === name));
  }
  async listPodsOnNode(nodeName: string) {
    return structuredClone([...this.pods.values()].filter((p) => p.spec?.nodeName === nodeName));
  }
  async getController(kind: string, namespace: string, name: string) {
    return structuredClone(this.controllers.get(`${kind}/${namespace}/${name}`));
  }
  async getNodeLease(nodeName: string) {
    return structuredClone(this.leases.get(nodeName));
  }
  /** Where in `writes` each status write that carried the pods' record (status.pods) landed. */
  readonly podRecordWrites: number[] = [];
  async patchKernelPanicEventStatus(name: string, status: KernelPanicEventStatus) {
    this.write(`status ${name}`);
    if (status.pods !== undefined) this.podRecordWrites.push(this.writes.length - 1);
    const event = this.events.get(name);
    // A merge patch, as the API server applies it (top-level fields replaced).
    if (event !== undefined) event.status = { ...event.status, ...structuredClone(status) };
  }
  /** The KernelPanicImpacts created, by namespace/name. */
  readonly impacts = new Map<string, KernelPanicImpact>();
  async createKernelPanicImpact(impact: KernelPanicImpact) {
    const key = `${impact.metadata.namespace}/${impact.metadata.name}`;
    this.write(`impact ${key}`);
    if (this.dryRun) return "created" as const;
    if (this.impacts.has(key)) return "exists" as const;
    this.impacts.set(key, structuredClone(impact));
    return "created" as const;
  }
  async deleteKernelPanicEvent(name: string) {
    this.write(`deleteEvent ${name}`);
    this.events.delete(name);
    return "deleted" as const;
  }
  async failPod(
    namespace: string,
    name: string,
    _annotations: Record<string, string>,
    condition: Record<string, string>,
  ) {
    this.write(`failPod ${namespace}/${name}`);
    const pod = this.pods.get(`${namespace}/${name}`);
    if (pod === undefined || this.dryRun) return;
    pod.status = Object.assign(pod.status ?? {}, { phase: "Failed", conditions: [condition as never] });
  }
  async annotatePod(namespace: string, name: string) {
    this.write(`annotatePod ${namespace}/${name}`);
  }
  async deletePod(namespace: string, name: string) {
    this.write(`deletePod ${namespace}/${name}`);
    if (!this.dryRun) this.pods.delete(`${namespace}/${name}`);
    return "deleted" as const;
  }
  async annotateNode(name: string, annotations: Record<string, string>, options: { cordon?: boolean } = {}) {
    this.write(`annotateNode ${name}`);
    const node = this.nodes.find((n) => n.metadata?.name === name);
    if (node?.metadata !== undefined && !this.dryRun)
      node.metadata.annotations = { ...node.metadata.annotations, ...annotations };
    if (options.cordon !== true) return;
    this.write(`cordon ${name}`);
    if (node !== undefined && !this.dryRun) node.spec = Object.assign(node.spec ?? {}, { unschedulable: true });
  }
  async uncordonNode(name: string) {
    this.write(`uncordon ${name}`);
    const node = this.nodes.find((n) => n.metadata?.name === name);
    if (node !== undefined && !this.dryRun) node.spec = Object.assign(node.spec ?? {}, { unschedulable: false });
  }
  async addNodeTaint(name: string) {
    this.write(`taint ${name} ${OUT_OF_SERVICE_TAINT.key}`);
  }
  async setNodeCondition(name: string, condition: NodeConditionPatch) {
    this.write(`nodeCondition ${name} ${condition.type}=${condition.status}`);
    const node = this.nodes.find((n) => n.metadata?.name === name);
    if (node === undefined || this.dryRun) return;
    const others = (node.status?.conditions ?? []).filter((c) => c.type !== condition.type);
    const times = {
      lastTransitionTime: new Date(condition.lastTransitionTime),
      lastHeartbeatTime: new Date(condition.lastHeartbeatTime),
    };
    node.status ??= {};
    node.status.conditions = [...others, { ...condition, ...times }];
  }
  async deleteNode(name: string) {
    this.write(`deleteNode ${name}`);
    if (!this.dryRun) this.nodes = this.nodes.filter((n) => n.metadata?.name !== name);
    return "deleted" as const;
  }
  async recordEvent(object: { kind: string; name: string }, type: string, reason: string) {
    this.write(`event ${type} ${reason} ${object.kind}/${object.name}`);
  }
}
