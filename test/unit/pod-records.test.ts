// The pods a remediation acts on, kept in the event's status: what is planned for each, merged by UID across an
// interrupted pass, bounded, recorded before any pod is deleted, and small enough for etcd at a node's capacity.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import { LIMITS, type KernelPanicEvent, type KernelPanicEventStatus } from "../../operator/api/kernelpanicevent.ts";
import { createLogger } from "../../operator/log.ts";
import { mergeRecords, plannedRecords, recordPods } from "../../operator/reconciler/remediation/pod-records.ts";
import { terminatePods, type PodWriter } from "../../operator/reconciler/remediation/pods.ts";

/** etcd refuses a request larger than this by default (--max-request-bytes). */
const ETCD_REQUEST_LIMIT = 1.5 * 1024 * 1024;

function pod(i: number, extra: { phase?: string; owner?: string; namespace?: string; name?: string } = {}): V1Pod {
  return {
    metadata: {
      namespace: extra.namespace ?? "shop",
      name: extra.name ?? `web-${i}`,
      uid: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
      ownerReferences:
        extra.owner === undefined
          ? []
          : [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: extra.owner, uid: "rs", controller: true }],
    },
    status: { phase: extra.phase ?? "Running" },
  };
}

const event = (status?: KernelPanicEventStatus) =>
  ({
    apiVersion: "lastgasp.dev/v1alpha1",
    kind: "KernelPanicEvent",
    metadata: { name: "kpe-1" },
    spec: { reason: "Fatal exception" },
    ...(status === undefined ? {} : { status }),
  }) as KernelPanicEvent;

describe("pod records", () => {
  it("say what is done to each pod: a running one is failed, a finished one only annotated", () => {
    const records = plannedRecords([pod(1, { owner: "web-7d9" }), pod(2, { phase: "Succeeded" })]);
    assert.deepEqual(records, [
      {
        namespace: "shop",
        name: "web-1",
        uid: "00000000-0000-4000-8000-000000000001",
        owner: { kind: "ReplicaSet", name: "web-7d9" },
        action: "Failed",
      },
      { namespace: "shop", name: "web-2", uid: "00000000-0000-4000-8000-000000000002", action: "Annotated" },
    ]);
  });

  it("merge by UID: a pass after a restart adds the pods it still finds, none twice, and keeps the deleted", () => {
    const all = Array.from({ length: 40 }, (_, i) => pod(i));
    const first = mergeRecords(undefined, plannedRecords(all));
    // Killed after deleting ten; the next pass lists the other thirty.
    const second = mergeRecords(first, plannedRecords(all.slice(10)));
    assert.equal(second.pods.length, 40);
    assert.equal(new Set(second.pods.map((p) => p.uid)).size, 40);
    assert.deepEqual(second, first);
  });

  it(`list at most ${LIMITS.pods} pods and count the rest, however many passes`, () => {
    const all = Array.from({ length: 300 }, (_, i) => pod(i));
    const first = mergeRecords(undefined, plannedRecords(all));
    assert.equal(first.pods.length, LIMITS.pods);
    assert.equal(first.podsNotListed, 300 - LIMITS.pods);
    const again = mergeRecords(first, plannedRecords(all.slice(100)));
    assert.equal(again.pods.length, LIMITS.pods);
    assert.equal(again.podsNotListed, 300 - LIMITS.pods, "a resumed pass does not count a pod twice");
  });

  it("stay far below etcd's request limit at a node's default capacity and at the cap, with the longest names", (t) => {
    const longest = (i: number) =>
      pod(i, {
        namespace: "n".repeat(63),
        name: `${"p".repeat(240)}-${String(i).padStart(5, "0")}`,
        owner: "o".repeat(253),
      });
    for (const count of [110, LIMITS.pods]) {
      const records = mergeRecords(undefined, plannedRecords(Array.from({ length: count }, (_, i) => longest(i))));
      const bytes = Buffer.byteLength(JSON.stringify(event(records)));
      t.diagnostic(
        `${count} pods with the longest names: ${bytes} bytes of status (etcd's limit ${ETCD_REQUEST_LIMIT})`,
      );
      assert.ok(bytes < ETCD_REQUEST_LIMIT / 4, `${bytes} bytes`);
    }
  });

  it("are written only when they add a pod (a repeated pass writes nothing)", async () => {
    const writes: KernelPanicEventStatus[] = [];
    const deps = {
      writer: {
        patchKernelPanicEventStatus: (_: string, s: KernelPanicEventStatus) => (writes.push(s), Promise.resolve()),
      },
    };
    const pods = [pod(1), pod(2, { namespace: "batch" })];
    const recorded = await recordPods(event(), pods, deps);
    assert.equal(writes.length, 1);
    assert.deepEqual(
      recorded.map((p) => `${p.namespace}/${p.name}`),
      ["shop/web-1", "batch/web-2"],
    );
    await recordPods(event(writes[0]), pods, deps);
    assert.equal(writes.length, 1, "nothing new");
  });

  it("are written before any pod is deleted: a deletion waits for them, failing does not", async () => {
    const calls: string[] = [];
    const writer: PodWriter = {
      dryRun: false,
      failPod: (_ns, name) => (calls.push(`fail ${name}`), Promise.resolve()),
      annotatePod: () => Promise.resolve(),
      deletePod: (_ns, name) => (calls.push(`delete ${name}`), Promise.resolve("deleted" as const)),
    };
    let settle: () => void = () => undefined;
    const recorded = new Promise<void>((resolve) => (settle = resolve));
    const done = terminatePods([pod(1), pod(2)], event(), "worker-1", writer, {
      concurrency: 2,
      log: createLogger("error", "test"),
      now: () => new Date(0),
      recorded,
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(calls.sort(), ["fail web-1", "fail web-2"], "failed while the record is written, none deleted");
    settle();
    await done;
    assert.deepEqual(calls.filter((c) => c.startsWith("delete")).sort(), ["delete web-1", "delete web-2"]);

    const refused = terminatePods([pod(3)], event(), "worker-1", writer, {
      concurrency: 1,
      log: createLogger("error", "test"),
      now: () => new Date(0),
      recorded: Promise.reject(new Error("status write refused")),
    });
    await assert.rejects(refused, /status write refused/);
    assert.ok(!calls.includes("delete web-3"), "a pod is never deleted unrecorded");
  });
});
