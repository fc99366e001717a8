// The harness's optional parts, proven against the shared control plane: CRD installation awaited until
// Established, and kwok simulating a kubelet (Ready node, renewed Lease, Running pods).
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { stringify } from "yaml";
import { adminKubeConfig, uniqueName } from "../harness/cluster.ts";
import { installCrds } from "../harness/crds.ts";
import { kwokNode } from "../harness/fixtures.ts";
import { waitFor } from "../harness/wait.ts";

const admin = adminKubeConfig();
const core = admin.makeApiClient(CoreV1Api);

function widgetCrd(group: string) {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `widgets.${group}` },
    spec: {
      group,
      scope: "Cluster",
      names: { plural: "widgets", singular: "widget", kind: "Widget" },
      versions: [
        {
          name: "v1",
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: "object",
              properties: { spec: { type: "object", properties: { size: { type: "integer" } } } },
            },
          },
        },
      ],
    },
  };
}

describe("harness: CRDs from a directory", () => {
  const dir = mkdtempSync(join(tmpdir(), "crds-"));
  after(() => {
    rmSync(dir, { recursive: true });
  });

  it("installs every CRD and returns only once it can be used", async () => {
    const group = `${uniqueName("g")}.lastgasp.test`;
    writeFileSync(join(dir, "widgets.yaml"), stringify(widgetCrd(group)));
    writeFileSync(join(dir, "notes.txt"), "not a manifest");

    assert.deepEqual(await installCrds(admin, dir), [`widgets.${group}`]);
    const objects = admin.makeApiClient(CustomObjectsApi);
    await objects.createClusterCustomObject({
      group,
      version: "v1",
      plural: "widgets",
      body: { apiVersion: `${group}/v1`, kind: "Widget", metadata: { name: "w" }, spec: { size: 3 } },
    });
    const widget = (await objects.getClusterCustomObject({ group, version: "v1", plural: "widgets", name: "w" })) as {
      spec: { size: number };
    };
    assert.equal(widget.spec.size, 3);
  });
});

describe("harness: kwok", () => {
  const nodeName = uniqueName("kwok");
  after(async () => {
    await core.deleteNode({ name: nodeName });
  });

  it("simulates the kubelet of an annotated node: Ready, Lease renewed, pods Running", async () => {
    await core.createNode({ body: kwokNode(nodeName, "127.0.0.43") });
    await waitFor(
      async () =>
        (await core.readNode({ name: nodeName })).status?.conditions?.some(
          (c) => c.type === "Ready" && c.status === "True",
        ),
      {
        what: `node ${nodeName} Ready`,
      },
    );
    const lease = await waitFor(
      () =>
        admin.makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace: "kube-node-lease", name: nodeName }),
      {
        what: `the Lease of ${nodeName}`,
      },
    );
    assert.ok(lease.spec?.renewTime !== undefined, "kwok renews the node's Lease as a kubelet would");

    const pod = uniqueName("pod");
    await core.createNamespacedPod({
      namespace: "default",
      body: {
        metadata: { name: pod },
        spec: { nodeName, containers: [{ name: "main", image: "registry.k8s.io/pause:3.10" }] },
      },
    });
    await waitFor(
      async () => (await core.readNamespacedPod({ namespace: "default", name: pod })).status?.phase === "Running",
      {
        what: `pod ${pod} Running`,
      },
    );
    await core.deleteNamespacedPod({ namespace: "default", name: pod, body: { gracePeriodSeconds: 0 } });
  });
});
