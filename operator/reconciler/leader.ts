// Leader election through a coordination.k8s.io Lease, as client-go's: only the holder reconciles, so two
// replicas never act twice. The holder renews every `retryPeriodMs`; if it cannot renew within
// `renewDeadlineMs` it stops acting before its lease (`leaseDurationMs`) can expire and another take over.
import type { V1Lease, V1LeaseSpec } from "@kubernetes/client-node";
import { setTimeout as delay } from "node:timers/promises";
import { classifyError, describe } from "../kube/errors.ts";
import { microTime, type LeaseStore } from "../kube/leases.ts";
import type { Logger } from "../log.ts";

export interface LeaderOptions {
  /** namespace/name of the Lease, for logs. */
  readonly lease: string;
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
}

export class LeaderElector {
  private stopped = false;
  private leading = false;

  private readonly store: LeaseStore;
  private readonly options: LeaderOptions;
  private readonly log: Logger;

  constructor(store: LeaseStore, options: LeaderOptions, log: Logger) {
    this.store = store;
    this.options = options;
    this.log = log;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /**
   * Campaigns until stopped. Each time it wins, `lead` starts the work and returns how to stop it; the work is
   * stopped as soon as leadership is lost (or the elector is stopped), and the campaign resumes.
   */
  async run(lead: () => Promise<() => Promise<void>>, onChange: (leading: boolean) => void): Promise<void> {
    while (!this.stopped) {
      if (!(await this.tryAcquireOrRenew())) {
        await delay(this.options.retryPeriodMs);
        continue;
      }
      this.setLeading(true, onChange);
      const stopWork = await lead();
      await this.holdWhileRenewing();
      this.setLeading(false, onChange);
      await stopWork();
    }
  }

  /** Stops campaigning; a held lease is released so that another replica takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (!this.leading) return;
    await this.update((lease) =>
      withSpec(lease, { ...specOf(lease), holderIdentity: "", leaseDurationSeconds: 1 }),
    ).catch(() => undefined);
  }

  /** A method, not a field read: `stopped` changes while this awaits, which flow analysis cannot see. */
  private isStopped(): boolean {
    return this.stopped;
  }

  private setLeading(leading: boolean, onChange: (leading: boolean) => void): void {
    this.leading = leading;
    this.log.info(leading ? "Became leader" : "Lost leadership", {
      lease: this.options.lease,
      identity: this.options.identity,
    });
    onChange(leading);
  }

  private async holdWhileRenewing(): Promise<void> {
    let lastRenewal = Date.now();
    while (!this.stopped) {
      await delay(this.options.retryPeriodMs);
      if (this.isStopped()) return;
      if (await this.tryAcquireOrRenew()) lastRenewal = Date.now();
      else if (Date.now() - lastRenewal > this.options.renewDeadlineMs) return;
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    try {
      const lease = await this.store.read();
      const now = new Date();
      if (lease === undefined) return await this.create(now);
      if (this.heldByAnother(lease, now)) return false;
      const taking = lease.spec?.holderIdentity !== this.options.identity;
      const spec: LeaseFields = {
        ...specOf(lease),
        holderIdentity: this.options.identity,
        leaseDurationSeconds: Math.ceil(this.options.leaseDurationMs / 1000),
        renewTime: microTime(now),
      };
      if (taking) {
        spec.acquireTime = microTime(now);
        spec.leaseTransitions = (lease.spec?.leaseTransitions ?? 0) + 1;
      }
      await this.update((l) => withSpec(l, spec), lease);
      return true;
    } catch (err) {
      // Conflict: another replica wrote the lease first. Anything else: try again next period.
      if (classifyError(err).class !== "Conflict")
        this.log.warn("Leader election attempt failed", { error: describe(err) });
      return false;
    }
  }

  /** Another replica holds the lease and has renewed it within its duration. */
  private heldByAnother(lease: V1Lease, now: Date): boolean {
    const holder = lease.spec?.holderIdentity ?? "";
    const renewed = lease.spec?.renewTime === undefined ? 0 : new Date(lease.spec.renewTime).getTime();
    const durationMs = (lease.spec?.leaseDurationSeconds ?? 0) * 1000;
    return holder !== "" && holder !== this.options.identity && renewed + durationMs > now.getTime();
  }

  private async create(now: Date): Promise<boolean> {
    const body: V1Lease = {
      spec: {
        holderIdentity: this.options.identity,
        leaseDurationSeconds: Math.ceil(this.options.leaseDurationMs / 1000),
        acquireTime: microTime(now),
        renewTime: microTime(now),
        leaseTransitions: 0,
      },
    };
    await this.store.create(body);
    return true;
  }

  /** Replace with the resourceVersion read: optimistic concurrency makes the write fail if anyone else wrote. */
  private async update(change: (lease: V1Lease) => V1Lease, current?: V1Lease): Promise<void> {
    const lease = current ?? (await this.store.read());
    if (lease === undefined) return;
    await this.store.replace(change(lease));
  }
}

/** The fields of a Lease's spec as a plain object (client-node's models are classes: no spreading). */
type LeaseFields = Pick<
  V1LeaseSpec,
  "holderIdentity" | "leaseDurationSeconds" | "acquireTime" | "renewTime" | "leaseTransitions"
>;

function specOf(lease: V1Lease): LeaseFields {
  const spec = lease.spec;
  return {
    holderIdentity: spec?.holderIdentity,
    leaseDurationSeconds: spec?.leaseDurationSeconds,
    // Read back as Dates: they must be sent again in MicroTime form.
    acquireTime: spec?.acquireTime === undefined ? undefined : microTime(new Date(spec.acquireTime)),
    renewTime: spec?.renewTime === undefined ? undefined : microTime(new Date(spec.renewTime)),
    leaseTransitions: spec?.leaseTransitions,
  };
}

function withSpec(lease: V1Lease, spec: LeaseFields): V1Lease {
  return { apiVersion: lease.apiVersion, kind: lease.kind, metadata: lease.metadata, spec };
}
