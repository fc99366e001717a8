// Leader election's expiry is observed on the local monotonic clock, never computed from another machine's
// renewTime (client-go's way): a standby whose wall clock runs 20 s ahead must not take a live leader's Lease.
// The Lease store here is a model of the API server's optimistic concurrency (resourceVersion); the real one is
// exercised in test/integration/reconciler-safety.test.ts.
import type { V1Lease } from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Clock } from "../../operator/clock.ts";
import { createLogger } from "../../operator/log.ts";
import { LeaderElector } from "../../operator/reconciler/loop/leader.ts";
import type { LeaseStore } from "../../operator/kube/leases.ts";

class MemoryLease implements LeaseStore {
  lease: V1Lease | undefined;
  private version = 0;

  read(): Promise<V1Lease | undefined> {
    return Promise.resolve(this.lease === undefined ? undefined : structuredClone(this.lease));
  }

  create(lease: V1Lease): Promise<void> {
    if (this.lease !== undefined) return Promise.reject(conflict());
    this.lease = { spec: lease.spec, metadata: { resourceVersion: String(++this.version) } };
    return Promise.resolve();
  }

  replace(lease: V1Lease): Promise<void> {
    if (lease.metadata?.resourceVersion !== this.lease?.metadata?.resourceVersion) return Promise.reject(conflict());
    this.lease = { spec: lease.spec, metadata: { resourceVersion: String(++this.version) } };
    return Promise.resolve();
  }
}

function conflict(): Error {
  return Object.assign(new Error("conflict"), { code: 409 });
}

const LEASE_MS = 15_000;

/** One machine's clocks: the shared monotonic time the test moves, and a wall clock `skewMs` off. */
function machineClock(clock: { ms: number }, skewMs: number): Clock {
  const wallMs = () => Date.UTC(2026, 11, 6) + clock.ms + skewMs;
  const noTimers = () => assert.fail("tryAcquireOrRenew sets no timer");
  return {
    now: () => new Date(wallMs()),
    nowMs: wallMs,
    monotonicMs: () => clock.ms,
    setTimeout: noTimers,
    setInterval: noTimers,
    sleep: noTimers,
  };
}

function replica(store: LeaseStore, identity: string, clock: { ms: number }, skewMs: number): LeaderElector {
  return new LeaderElector(
    store,
    {
      lease: "test/leader",
      identity,
      leaseDurationMs: LEASE_MS,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2000,
    },
    createLogger("silent", "test"),
    machineClock(clock, skewMs),
  );
}

describe("LeaderElector", () => {
  it("a standby 20 s ahead never takes a lease its holder renews; it takes it a lease duration after renewals stop", async () => {
    const store = new MemoryLease();
    const clock = { ms: 0 };
    const leader = replica(store, "one", clock, 0);
    const ahead = replica(store, "two", clock, 20_000);
    assert.equal(await leader.tryAcquireOrRenew(), true);
    for (let t = 0; t < 60_000; t += 2000) {
      clock.ms = t;
      assert.equal(await leader.tryAcquireOrRenew(), true, `the leader renews at ${t} ms`);
      assert.equal(await ahead.tryAcquireOrRenew(), false, `the standby took a live lease at ${t} ms`);
    }
    // The leader stops renewing (killed): the record stops changing.
    const stoppedAt = clock.ms;
    for (; clock.ms < stoppedAt + LEASE_MS; clock.ms += 1000)
      assert.equal(await ahead.tryAcquireOrRenew(), false, `taken ${clock.ms - stoppedAt} ms after the last renewal`);
    clock.ms += 1000;
    assert.equal(await ahead.tryAcquireOrRenew(), true, "taken once a full lease duration passed unchanged");
    assert.equal(store.lease?.spec?.holderIdentity, "two");
    assert.equal(store.lease?.spec?.leaseTransitions, 1);
  });

  it("a standby 20 s behind takes an abandoned lease after one lease duration, not 20 s later", async () => {
    const store = new MemoryLease();
    const clock = { ms: 0 };
    assert.equal(await replica(store, "one", clock, 0).tryAcquireOrRenew(), true);
    const behind = replica(store, "two", clock, -20_000);
    assert.equal(await behind.tryAcquireOrRenew(), false);
    clock.ms = LEASE_MS + 1;
    assert.equal(await behind.tryAcquireOrRenew(), true);
  });
});
