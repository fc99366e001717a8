// The first integration test: proves the harness gives a real kube-apiserver with the behaviour the operator
// builds on (field selectors on spec.nodeName, UID preconditions on delete, RBAC enforced for ServiceAccounts).
import { CoreV1Api, RbacAuthorizationV1Api, VersionApi, type V1Pod } from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { adminKubeConfig, uniqueName } from "../harness/cluster.ts";
import { serviceAccountKubeConfig } from "../harness/tokens.ts";

const admin = adminKubeConfig();
const core = admin.makeApiClient(CoreV1Api);

function podOn(nodeName: string, name: string): V1Pod {
  return {
    metadata: { name },
    spec: { nodeName, containers: [{ name: "main", image: "registry.invalid/none:1" }] },
  };
}

function statusCode(err: unknown): number | undefined {
  return (err as { code?: number }).code;
}

describe("test control plane", () => {
  const namespace = uniqueName("cp");
  const nodeName = uniqueName("node");
  const nodeIP = "127.0.0.42";

  before(async () => {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await core.createNode({
      body: { metadata: { name: nodeName }, status: { addresses: [{ type: "InternalIP", address: nodeIP }] } },
    });
  });

  after(async () => {
    await core.deleteNamespace({ name: namespace });
    await core.deleteNode({ name: nodeName });
  });

  it("reports the real Kubernetes version", async () => {
    const version = await admin.makeApiClient(VersionApi).getCode();
    assert.match(version.gitVersion, /^v1\.\d+\.\d+$/);
    assert.ok(Number(version.minor) >= 33, `expected Kubernetes ≥ 1.33, got ${version.gitVersion}`);
  });

  it("keeps a Node's InternalIP in status.addresses", async () => {
    const node = await core.readNode({ name: nodeName });
    const addresses = node.status?.addresses?.map(({ type, address }) => ({ type, address }));
    assert.deepEqual(addresses, [{ type: "InternalIP", address: nodeIP }]);
  });

  it("lists pods by field selector spec.nodeName and force-deletes one only with its UID", async () => {
    for (const name of ["a", "b", "c"]) await core.createNamespacedPod({ namespace, body: podOn(nodeName, name) });
    await core.createNamespacedPod({ namespace, body: podOn(uniqueName("other-node"), "elsewhere") });

    const onNode = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${nodeName}` });
    assert.deepEqual(onNode.items.map((p) => p.metadata?.name).sort(), ["a", "b", "c"]);

    const victim = onNode.items.find((p) => p.metadata?.name === "b");
    const uid = victim?.metadata?.uid;
    assert.ok(uid !== undefined);

    await assert.rejects(
      core.deleteNamespacedPod({
        namespace,
        name: "b",
        body: { gracePeriodSeconds: 0, preconditions: { uid: "00000000-0000-0000-0000-000000000000" } },
      }),
      (err) => statusCode(err) === 409,
      "a delete with the wrong UID must be refused with 409 Conflict",
    );
    // With a DeleteOptions body the apiserver ignores the query parameters: grace 0 must be in the body.
    await core.deleteNamespacedPod({ namespace, name: "b", body: { gracePeriodSeconds: 0, preconditions: { uid } } });

    await assert.rejects(core.readNamespacedPod({ namespace, name: "b" }), (err) => statusCode(err) === 404);
    const left = await core.listNamespacedPod({ namespace, fieldSelector: `spec.nodeName=${nodeName}` });
    assert.deepEqual(left.items.map((p) => p.metadata?.name).sort(), ["a", "c"]);
  });

  it("refuses a ServiceAccount token what its narrow Role does not grant", async () => {
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace,
      body: {
        metadata: { name: "pod-reader" },
        rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: "reader-can-read-pods" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "pod-reader" },
        subjects: [{ kind: "ServiceAccount", name: "reader", namespace }],
      },
    });
    const reader = (await serviceAccountKubeConfig(admin, namespace, "reader")).makeApiClient(CoreV1Api);

    const pods = await reader.listNamespacedPod({ namespace });
    assert.ok(pods.items.length > 0, "the Role grants listing pods in its namespace");
    await assert.rejects(reader.deleteNamespacedPod({ namespace, name: "a" }), (err) => statusCode(err) === 403);
    await assert.rejects(reader.listNode(), (err) => statusCode(err) === 403);
    await assert.rejects(reader.listNamespacedSecret({ namespace }), (err) => statusCode(err) === 403);
    await assert.rejects(reader.listNamespacedPod({ namespace: "default" }), (err) => statusCode(err) === 403);
  });
});
