// Leader election through a coordination.k8s.io Lease, as client-go's: only the holder reconciles, so two
// replicas never act twice. The holder renews every `retryPeriodMs`; if it cannot renew within
// `renewDeadlineMs` it stops acting before its lease (`leaseDurationMs`) can expire and another take over.
// Expiry is observed, never computed from another machine's clock: like client-go, a candidate notes on its own
// monotonic clock when the Lease record last changed, and takes it only after a full lease duration without a
// change. A replica whose wall clock runs ahead (or behind) of the holder's cannot take a live lease.
import type { V1Lease, V1LeaseSpec } from "@kubernetes/client-node";
import type { Clock } from "../../clock.ts";
import { classifyError, describe } from "../../kube/errors.ts";
import { microTime, type LeaseStore } from "../../kube/leases.ts";
import type { Logger } from "../../log.ts";

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
  /** The Lease record as last read (its resourceVersion) and when, on the monotonic clock, it was first seen so. */
  private observed: { readonly version: string; readonly atMs: number } | undefined;
  /** Expiry is judged on its monotonic clock; its wall clock is only written into the Lease (for people and tools). */
  private readonly clock: Clock;

  private readonly store: LeaseStore;
  private readonly options: LeaderOptions;
  private readonly log: Logger;

  constructor(store: LeaseStore, options: LeaderOptions, log: Logger, clock: Clock) {
    this.store = store;
    this.options = options;
    this.log = log;
    this.clock = clock;
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
        await this.clock.sleep(this.options.retryPeriodMs);
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
    let lastRenewal = this.clock.monotonicMs();
    while (!this.stopped) {
      await this.clock.sleep(this.options.retryPeriodMs);
      if (this.isStopped()) return;
      if (await this.tryAcquireOrRenew()) lastRenewal = this.clock.monotonicMs();
      else if (this.clock.monotonicMs() - lastRenewal > this.options.renewDeadlineMs) return;
    }
  }

  /** One round of the campaign: true when this replica holds the lease now (taken or renewed). */
  async tryAcquireOrRenew(): Promise<boolean> {
    try {
      const lease = await this.store.read();
      const now = this.clock.now();
      if (lease === undefined) return await this.create(now);
      if (this.heldByAnother(lease)) return false;
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
        this.log.warn("Leader election attempt failed", { error: describe(err), err });
      return false;
    }
  }

  /**
   * Another replica holds the lease, and its record changed within the lease's duration as this replica saw it
   * (its renewTime is another machine's clock: only that it changes counts, never its value).
   */
  private heldByAnother(lease: V1Lease): boolean {
    const nowMs = this.clock.monotonicMs();
    const version = lease.metadata?.resourceVersion ?? "";
    if (this.observed?.version !== version) this.observed = { version, atMs: nowMs };
    const holder = lease.spec?.holderIdentity ?? "";
    const durationMs = (lease.spec?.leaseDurationSeconds ?? 0) * 1000;
    return holder !== "" && holder !== this.options.identity && this.observed.atMs + durationMs > nowMs;
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
