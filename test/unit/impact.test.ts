// KernelPanicImpact: one per namespace whose pods a panic took, owned by its event; and the CRD agrees with the
// code's types.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parse } from "yaml";
import type { KernelPanicEvent, PodRecord } from "../../operator/api/kernelpanicevent.ts";
import { IMPACT_KIND, IMPACT_PLURAL, type KernelPanicImpactSpec } from "../../operator/api/kernelpanicimpact.ts";
import { impactsOf } from "../../operator/reconciler/remediation/impacts.ts";

interface Schema {
  required?: string[];
  description?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
}

const crd = parse(
  readFileSync(new URL("../../crds/lastgasp.dev_kernelpanicimpacts.yaml", import.meta.url), "utf8"),
) as {
  metadata: { name: string };
  spec: { scope: string; names: { kind: string; plural: string }; versions: { schema: { openAPIV3Schema: Schema } }[] };
};

const event = {
  apiVersion: "lastgasp.dev/v1alpha1",
  kind: "KernelPanicEvent",
  metadata: { name: "10-0-0-7-abc", uid: "e-uid" },
  spec: {
    detectedTime: "2026-12-07T06:00:00.000Z",
    reason: "Fatal exception",
    cause: "BUG: kernel NULL pointer dereference, address: 0000000000000000",
    signature: { id: "0123456789abcdef", title: "BUG: kernel NULL pointer dereference in foo" },
  },
} as KernelPanicEvent;

const pod = (namespace: string, name: string): PodRecord => ({
  namespace,
  name,
  uid: `${namespace}-${name}`,
  action: "Failed",
});

describe("KernelPanicImpact", () => {
  it("is one per namespace, with that namespace's pods only, owned by the event", () => {
    const impacts = impactsOf(event, "worker-3", [pod("shop", "web-1"), pod("batch", "job-1"), pod("shop", "web-2")]);
    assert.deepEqual(
      impacts.map((i) => [i.metadata.namespace, i.spec.pods.map((p) => p.name), i.spec.podCount]),
      [
        ["shop", ["web-1", "web-2"], 2],
        ["batch", ["job-1"], 1],
      ],
    );
    const [shop] = impacts;
    assert.equal(shop!.metadata.name, event.metadata.name);
    assert.deepEqual(shop!.metadata.ownerReferences, [
      { apiVersion: "lastgasp.dev/v1alpha1", kind: "KernelPanicEvent", name: event.metadata.name, uid: "e-uid" },
    ]);
    assert.deepEqual(
      { ...shop!.spec, pods: [] },
      {
        event: event.metadata.name,
        node: "worker-3",
        panickedAt: "2026-12-07T06:00:00.000Z",
        reason: "Fatal exception",
        cause: "BUG: kernel NULL pointer dereference, address: 0000000000000000",
        signature: "BUG: kernel NULL pointer dereference in foo",
        pods: [],
        podCount: 2,
      },
    );
  });

  it("has a namespaced CRD with exactly the code's fields, each described", () => {
    assert.equal(crd.metadata.name, `${IMPACT_PLURAL}.lastgasp.dev`);
    assert.equal(crd.spec.scope, "Namespaced");
    assert.equal(crd.spec.names.kind, IMPACT_KIND);
    const spec = crd.spec.versions[0]!.schema.openAPIV3Schema.properties!.spec!;
    const fields: (keyof KernelPanicImpactSpec)[] = [
      "event",
      "node",
      "panickedAt",
      "reason",
      "cause",
      "signature",
      "pods",
      "podCount",
    ];
    assert.deepEqual(Object.keys(spec.properties!).sort(), [...fields].sort());
    const walk = (s: Schema, path: string) => {
      for (const [name, child] of Object.entries(s.properties ?? {})) {
        assert.ok(child.description, `${path}.${name} is described`);
        walk(child.items ?? child, `${path}.${name}`);
      }
    };
    walk(spec, "spec");
  });
});
