// `lastgasp why`'s lookup: what it accepts, which events it reads (by the namespace labels, not all of them), and
// how it matches a pod in the records, newest panic first.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KernelPanicEvent, PodRecord } from "../../operator/api/kernelpanicevent.ts";
import { candidateSelectors, findPod, parsePodQuery } from "../../operator/commands/why-lookup.ts";

const UID = "0b8e7c38-8b43-4a8b-9a62-64f1c2d1e0aa";

function event(name: string, detectedTime: string, pods: PodRecord[]): KernelPanicEvent {
  return {
    apiVersion: "lastgasp.dev/v1alpha1",
    kind: "KernelPanicEvent",
    metadata: { name },
    spec: { detectedTime } as KernelPanicEvent["spec"],
    status: { pods },
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

  it("reads only the events labelled with the pod's namespace (and those with more namespaces than labels)", () => {
    assert.deepEqual(candidateSelectors({ namespace: "shop", name: "web-0" }), [
      "ns.lastgasp.dev/shop=true",
      "lastgasp.dev/many-namespaces=true",
    ]);
    assert.equal(candidateSelectors({ uid: UID }), undefined, "a UID alone: nothing indexes it");
  });

  it("finds each record of the pod once, newest panic first, by name or by UID", () => {
    const older = event("a", "2026-12-01T00:00:00Z", [web0("u-1")]);
    const newer = event("b", "2026-12-05T00:00:00Z", [web0("u-2"), { ...web0("u-3"), name: "web-1" }]);
    // The same event read twice (it carries the namespace label and the many-namespaces label).
    const found = findPod([older, newer, newer], { namespace: "shop", name: "web-0" });
    assert.deepEqual(
      found.map((f) => [f.event.metadata.name, f.pod.uid]),
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
