// Is the node really dead? Evidence from one timeline only: the reconciler reads the node's Lease once, and again
// after a full renewal interval (plus a margin) measured on its own monotonic clock. A live kubelet changes its
// Lease at every renewal; a Lease that did not change at all over a whole interval belongs to a kubelet that
// stopped. Timestamps written by other machines (the kubelet's renewTime, the receiver's detectedTime) are never
// compared with ours: a skewed clock can neither make a live node look dead nor a dead one alive.
//
// The first observation lives in memory only. After a restart (or a leader change) the watch starts again: that
// costs one more interval, never a wrong verdict built from two machines' clocks.
import type { V1Lease } from "@kubernetes/client-node";
import { trimOldest } from "../../bounded.ts";
import type { Clock } from "../../clock.ts";

/** What the kubelet uses when a Lease does not say (its --node-lease-duration-seconds default). */
export const DEFAULT_LEASE_DURATION_SECONDS = 40;
/** The kubelet renews its Lease every quarter of its duration (NodeLeaseRenewIntervalFraction). */
export const RENEW_INTERVAL_FRACTION = 0.25;
/** First observations remembered at most: one per event still waiting, capped against a flood of events. */
export const MAX_WATCHED_LEASES = 10_000;

export interface LeaseSnapshot {
  readonly resourceVersion: string;
  readonly renewTime: string | undefined;
  readonly holder: string | undefined;
}

interface FirstObservation {
  readonly snapshot: LeaseSnapshot;
  readonly atMs: number;
  readonly waitMs: number;
}

export type LivenessVerdict =
  | { readonly kind: "dead"; readonly snapshot: LeaseSnapshot; readonly watchedMs: number }
  | { readonly kind: "alive"; readonly before: LeaseSnapshot; readonly after: LeaseSnapshot }
  | {
      readonly kind: "watching";
      readonly snapshot: LeaseSnapshot;
      readonly remainingMs: number;
      readonly first: boolean;
    }
  | { readonly kind: "noLease" };

export function snapshotOf(lease: V1Lease): LeaseSnapshot {
  // client-node turns MicroTime into a Date; a Lease built by hand may hold the string.
  const renew = lease.spec?.renewTime as Date | string | undefined;
  return {
    resourceVersion: lease.metadata?.resourceVersion ?? "",
    renewTime: renew instanceof Date ? renew.toISOString() : renew,
    holder: lease.spec?.holderIdentity,
  };
}

/** One renewal interval of this Lease plus the margin: how long an unchanged Lease must be watched. */
export function watchDurationMs(lease: V1Lease, marginMs: number): number {
  const seconds = lease.spec?.leaseDurationSeconds ?? DEFAULT_LEASE_DURATION_SECONDS;
  return Math.max(1, seconds) * 1000 * RENEW_INTERVAL_FRACTION + marginMs;
}

export class LivenessWatch {
  private readonly marginMs: number;
  private readonly clock: Pick<Clock, "monotonicMs">;
  private readonly first = new Map<string, FirstObservation>();

  constructor(marginMs: number, clock: Pick<Clock, "monotonicMs">) {
    this.marginMs = marginMs;
    this.clock = clock;
  }

  get watching(): number {
    return this.first.size;
  }

  /**
   * The verdict about the node of event `key`, given the Lease as read now. The first call starts the watch;
   * later calls compare with that first read.
   */
  observe(key: string, lease: V1Lease | undefined): LivenessVerdict {
    if (lease === undefined) {
      this.first.delete(key);
      return { kind: "noLease" };
    }
    const now = this.clock.monotonicMs();
    const snapshot = snapshotOf(lease);
    const first = this.first.get(key);
    if (first === undefined) {
      this.remember(key, { snapshot, atMs: now, waitMs: watchDurationMs(lease, this.marginMs) });
      return { kind: "watching", snapshot, remainingMs: watchDurationMs(lease, this.marginMs), first: true };
    }
    if (changed(first.snapshot, snapshot)) {
      this.first.delete(key);
      return { kind: "alive", before: first.snapshot, after: snapshot };
    }
    const watchedMs = now - first.atMs;
    if (watchedMs < first.waitMs)
      return { kind: "watching", snapshot, remainingMs: first.waitMs - watchedMs, first: false };
    this.first.delete(key);
    return { kind: "dead", snapshot, watchedMs };
  }

  /** The event is gone or decided otherwise: its observation is no longer needed. */
  forget(key: string): void {
    this.first.delete(key);
  }

  private remember(key: string, observation: FirstObservation): void {
    // Oldest first (insertion order): an evicted event simply starts its watch again when next reconciled.
    trimOldest(this.first, MAX_WATCHED_LEASES - 1);
    this.first.set(key, observation);
  }
}

/** Any write to the Lease (a renewal above all) means something still holds it. */
function changed(before: LeaseSnapshot, after: LeaseSnapshot): boolean {
  return (
    before.resourceVersion !== after.resourceVersion ||
    before.renewTime !== after.renewTime ||
    before.holder !== after.holder
  );
}
