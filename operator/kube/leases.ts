// One named coordination.k8s.io Lease, read and written through the rate-limited caller: the leader election's
// only way to the API server.
import { CoordinationV1Api, type KubeConfig, type V1Lease } from "@kubernetes/client-node";
import type { ApiCaller } from "./caller.ts";
import { classifyError } from "./errors.ts";

/** What leader election needs of its Lease. */
export interface LeaseStore {
  /** The Lease, or undefined when it does not exist. */
  read(): Promise<V1Lease | undefined>;
  create(lease: V1Lease): Promise<void>;
  /** Replaces with the resourceVersion in `lease.metadata`: fails with Conflict if anyone wrote since. */
  replace(lease: V1Lease): Promise<void>;
}

export class ClusterLease implements LeaseStore {
  private readonly api: CoordinationV1Api;
  private readonly caller: ApiCaller;
  private readonly namespace: string;
  private readonly name: string;

  constructor(kc: KubeConfig, caller: ApiCaller, lease: { namespace: string; name: string }) {
    this.api = kc.makeApiClient(CoordinationV1Api);
    this.caller = caller;
    this.namespace = lease.namespace;
    this.name = lease.name;
  }

  async read(): Promise<V1Lease | undefined> {
    try {
      return await this.caller.call(() => this.api.readNamespacedLease({ namespace: this.namespace, name: this.name }));
    } catch (err) {
      if (classifyError(err).class === "NotFound") return undefined;
      throw err;
    }
  }

  async create(lease: V1Lease): Promise<void> {
    const body: V1Lease = { spec: lease.spec, metadata: { name: this.name, namespace: this.namespace } };
    await this.caller.call(() => this.api.createNamespacedLease({ namespace: this.namespace, body }));
  }

  async replace(lease: V1Lease): Promise<void> {
    await this.caller.call(() =>
      this.api.replaceNamespacedLease({ namespace: this.namespace, name: this.name, body: lease }),
    );
  }
}

/**
 * Lease times are MicroTime: the API server insists on six fractional digits, and client-node would send
 * Date.toISOString()'s three. A string in the right form passes through its serializer unchanged.
 */
export function microTime(date: Date): Date {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z") as unknown as Date;
}
