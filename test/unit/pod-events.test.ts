// The Events left for failed pods: one per owner naming its pods, one per bare pod, each within Kubernetes'
// 1 KiB note limit however many pods there were.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KernelPanicEvent } from "../../operator/api/kernelpanicevent.ts";
import {
  EVENT_MESSAGE_LIMIT,
  groupByOwner,
  recordPodEvents,
} from "../../operator/reconciler/remediation/pod-events.ts";
import type { OwnerRef, PodRef } from "../../operator/reconciler/remediation/pods.ts";
import { createLogger } from "../../operator/log.ts";

const event = { metadata: { name: "kpe-1" }, spec: { reason: "Fatal exception" } } as KernelPanicEvent;
const rs: OwnerRef = { kind: "ReplicaSet", apiVersion: "apps/v1", name: "web-7d9", uid: "rs-uid" };
const sts: OwnerRef = { kind: "StatefulSet", apiVersion: "apps/v1", name: "db", uid: "sts-uid" };

function pods(count: number, owner: OwnerRef | undefined, prefix: string, namespace = "shop"): PodRef[] {
  return Array.from({ length: count }, (_, i) => ({
    namespace,
    name: `${prefix}-${i}`,
    uid: `${prefix}-uid-${i}`,
    ...(owner === undefined ? {} : { owner }),
  }));
}

async function recorded(refs: PodRef[], dryRun = false, colocationWarnReplicas = 0) {
  const events: { kind: string; name: string; namespace?: string; reason: string; message: string }[] = [];
  const writer = {
    dryRun,
    recordEvent: (
      o: { kind: string; name: string; namespace?: string },
      _t: string,
      reason: string,
      message: string,
    ) => {
      events.push({
        kind: o.kind,
        name: o.name,
        ...(o.namespace === undefined ? {} : { namespace: o.namespace }),
        reason,
        message,
      });
      return Promise.resolve();
    },
  };
  await recordPodEvents(refs, event, "worker-1", writer, {
    concurrency: 4,
    colocationWarnReplicas,
    log: createLogger("error", "test"),
  });
  return events;
}

describe("pod Events: one per owner", () => {
  it("groups by owner and namespace; a bare pod gets its own", async () => {
    const refs = [
      ...pods(90, rs, "web"),
      ...pods(18, sts, "db"),
      ...pods(1, undefined, "bare"),
      ...pods(2, rs, "x", "other"),
    ];
    assert.equal(groupByOwner(refs).length, 4, "the same owner UID in another namespace is another group");
    const events = await recorded(refs);
    assert.deepEqual(events.map((e) => `${e.kind}/${e.namespace}/${e.name}`).sort(), [
      "Pod/shop/bare-0",
      "ReplicaSet/other/web-7d9",
      "ReplicaSet/shop/web-7d9",
      "StatefulSet/shop/db",
    ]);
    const web = events.find((e) => e.kind === "ReplicaSet" && e.namespace === "shop")!;
    assert.match(
      web.message,
      /^Node worker-1 had a kernel panic \(Fatal exception\); lastgasp marked 90 pods of this ReplicaSet Failed and deleted them: web-0, web-1, /,
    );
    assert.match(web.message, /See KernelPanicEvent kpe-1\.$/);
    const db = events.find((e) => e.kind === "StatefulSet")!;
    for (let i = 0; i < 18; i++) assert.ok(db.message.includes(`db-${i}`), `db-${i} listed`);
    assert.match(events.find((e) => e.kind === "Pod")!.message, /lastgasp marked the pod Failed and deleted it\./);
  });

  it("cuts a long list to the 1 KiB limit and says how many more", async () => {
    const refs = pods(110, rs, "a-rather-long-deployment-name-for-a-web-frontend-5f7c9d8b6-abcde");
    const [only] = await recorded(refs);
    assert.ok(only!.message.length <= EVENT_MESSAGE_LIMIT, `${only!.message.length} characters`);
    const listed = refs.filter(
      (r) => only!.message.includes(`${r.name},`) || only!.message.includes(`${r.name}.`),
    ).length;
    assert.ok(listed > 5, `${listed} names listed`);
    assert.match(only!.message, new RegExp(`… and ${110 - listed} more\\. See KernelPanicEvent`));
  });

  it("says would in a dry run", async () => {
    const [only] = await recorded(pods(2, rs, "web"), true);
    assert.match(only!.message, /lastgasp would mark 2 pods of this ReplicaSet Failed and would delete them/);
  });

  it("warns each owner with co-located replicas, with the count and how to spread them; never DaemonSets or Jobs", async () => {
    const ds: OwnerRef = { kind: "DaemonSet", apiVersion: "apps/v1", name: "agent", uid: "ds-uid" };
    const job: OwnerRef = { kind: "Job", apiVersion: "batch/v1", name: "batch", uid: "job-uid" };
    const refs = [
      ...pods(3, rs, "web"),
      ...pods(1, sts, "db"),
      ...pods(2, ds, "agent"),
      ...pods(4, job, "batch"),
      ...pods(1, undefined, "bare"),
    ];
    const warned = (await recorded(refs, false, 2)).filter((e) => e.reason === "KernelPanicColocated");
    assert.deepEqual(
      warned.map((e) => `${e.kind}/${e.name}`),
      ["ReplicaSet/web-7d9"],
    );
    assert.match(warned[0]!.message, /^3 replicas of this ReplicaSet were on node worker-1 when its kernel panicked/);
    assert.match(warned[0]!.message, /topologySpreadConstraints/);
    const off = await recorded(refs, false, 0);
    assert.ok(!off.some((e) => e.reason === "KernelPanicColocated"), "0 turns it off");
  });
});
