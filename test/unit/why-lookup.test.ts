// `lastgasp why`'s lookup: what it accepts, which namespace's records it reads, and how it matches a pod in them,
// newest panic first.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { PodRecord } from "../../operator/api/kernelpanicevent.ts";
import type { KernelPanicImpact } from "../../operator/api/kernelpanicimpact.ts";
import { findPod, namespaceToRead, parsePodQuery } from "../../operator/commands/why-lookup.ts";

const UID = "0b8e7c38-8b43-4a8b-9a62-64f1c2d1e0aa";

function impact(name: string, panickedAt: string, pods: PodRecord[]): KernelPanicImpact {
  return {
    apiVersion: "lastgasp.dev/v1alpha1",
    kind: "KernelPanicImpact",
    metadata: { name, namespace: "shop" },
    spec: { event: name, node: "worker-3", panickedAt, reason: "Fatal exception", pods, podCount: pods.length },
  };
}

const web0 = (uid: string): PodRecord => ({ namespace: "shop", name: "web-0", uid, action: "Failed" });

describe("lastgasp why: the lookup", () => {
  it("takes <namespace>/<pod> or a UID, and says what it expected otherwise", () => {
    assert.deepEqual(parsePodQuery("shop/web-0", ""), { namespace: "shop", name: "web-0" });
    assert.deepEqual(parsePodQuery(UID, ""), { uid: UID });
    assert.deepEqual(parsePodQuery(UID, "shop"), { uid: UID, namespace: "shop" });
    for (const bad of ["web-0", "shop/web-0/x", "Shop/web-0", "shop/"])
      assert.throws(() => parsePodQuery(bad, ""), /expected <namespace>\/<pod> or a pod's UID/);
  });

  it("reads the pod's namespace only; every namespace only for a UID alone", () => {
    assert.equal(namespaceToRead({ namespace: "shop", name: "web-0" }), "shop");
    assert.equal(namespaceToRead({ uid: UID, namespace: "shop" }), "shop");
    assert.equal(namespaceToRead({ uid: UID }), "");
  });

  it("finds each record of the pod, newest panic first, by name or by UID", () => {
    const older = impact("a", "2026-12-01T00:00:00Z", [web0("u-1")]);
    const newer = impact("b", "2026-12-05T00:00:00Z", [web0("u-2"), { ...web0("u-3"), name: "web-1" }]);
    assert.deepEqual(
      findPod([older, newer], { namespace: "shop", name: "web-0" }).map((f) => [f.impact.metadata.name, f.pod.uid]),
      [
        ["b", "u-2"],
        ["a", "u-1"],
      ],
    );
    assert.deepEqual(
      findPod([older, newer], { uid: "u-3" }).map((f) => f.pod.name),
      ["web-1"],
    );
    assert.deepEqual(findPod([older, newer], { uid: "u-3", namespace: "other" }), []);
    assert.deepEqual(findPod([older], { namespace: "shop", name: "web-9" }), []);
  });
});
