// `lastgasp why` as a namespace's own user: with the chart's rbac.aggregateToView, a ServiceAccount bound only to
// the `view` role in its namespace (a RoleBinding, a real token) reads why its pods went and is refused in another
// namespace; without the chart's role it is refused everywhere. kube-controller-manager aggregates the role.
import { CoreV1Api, CustomObjectsApi, RbacAuthorizationV1Api, type V1ClusterRole } from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { GROUP, VERSION } from "../../operator/api/kernelpanicevent.ts";
import { IMPACT_PLURAL, type KernelPanicImpact } from "../../operator/api/kernelpanicimpact.ts";
import { ensureBinaries, required } from "../harness/binaries.ts";
import { adminKubeConfig, uniqueName } from "../harness/cluster.ts";
import { plainYaml } from "../harness/chart-plane.ts";
import { serviceAccountKubeconfigYaml } from "../harness/tokens.ts";
import { waitFor } from "../harness/wait.ts";

const exec = promisify(execFile);
const bin = fileURLToPath(new URL("../../bin/lastgasp.ts", import.meta.url));
const chartDir = fileURLToPath(new URL("../../charts/lastgasp", import.meta.url));
const admin = adminKubeConfig();
const core = admin.makeApiClient(CoreV1Api);
const rbac = admin.makeApiClient(RbacAuthorizationV1Api);

function impact(namespace: string, event: string, pod: string): KernelPanicImpact {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: "KernelPanicImpact",
    metadata: { name: event, namespace },
    spec: {
      event,
      node: "worker-3",
      panickedAt: "2026-12-07T06:00:00.000Z",
      reason: "Fatal exception",
      signature: "BUG: kernel NULL pointer dereference in foo",
      pods: [{ namespace, name: pod, uid: "0b8e7c38-8b43-4a8b-9a62-64f1c2d1e0aa", action: "Failed" }],
      podCount: 1,
    },
  };
}

describe("lastgasp why, as a namespace's user with only the view role", () => {
  const mine = uniqueName("team-a");
  const theirs = uniqueName("team-b");
  const release = uniqueName("why");
  let dir: string;
  let kubeconfig: string;
  let viewRole: V1ClusterRole | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "lastgasp-why-"));
    for (const name of [mine, theirs]) await core.createNamespace({ body: { metadata: { name } } });
    const objects = admin.makeApiClient(CustomObjectsApi);
    for (const namespace of [mine, theirs])
      await objects.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural: IMPACT_PLURAL,
        namespace,
        body: impact(namespace, "10-0-0-7-abc", "web-1"),
      });
    await rbac.createNamespacedRoleBinding({
      namespace: mine,
      body: {
        metadata: { name: "alice-view" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "view" },
        subjects: [{ kind: "ServiceAccount", name: "alice", namespace: mine }],
      },
    });
    kubeconfig = join(dir, "alice.yaml");
    writeFileSync(kubeconfig, await serviceAccountKubeconfigYaml(admin, mine, "alice"));
  });
  after(async () => {
    if (viewRole !== undefined) await rbac.deleteClusterRole({ name: viewRole.metadata!.name! }).catch(() => undefined);
    for (const name of [mine, theirs]) await core.deleteNamespace({ name }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  const why = (target: string) => exec(process.execPath, [bin, "why", "--kubeconfig", kubeconfig, target]);
  const refused = (err: { code: number; stderr: string }) => {
    assert.equal(err.code, 1);
    assert.match(err.stderr, /lastgasp why: .*forbidden/i);
    return true;
  };

  it("is refused before the chart grants the view role its part", async () => {
    await assert.rejects(why(`${mine}/web-1`), refused);
  });

  it("reads its own namespace's records with the chart's aggregated role, and is refused in another", async () => {
    const helm = required(await ensureBinaries(["helm"]), "HELM");
    const rendered = plainYaml(
      (
        await exec(helm, ["template", release, chartDir, "-n", "lastgasp", "--set", "rbac.aggregateToView=true"], {
          maxBuffer: 16 << 20,
        })
      ).stdout,
    );
    viewRole = rendered.find((o) => o.kind === "ClusterRole" && o.metadata?.name === `${release}-lastgasp-view`);
    assert.ok(viewRole, "rendered with rbac.aggregateToView");
    await rbac.createClusterRole({ body: viewRole });
    // kube-controller-manager folds the labelled role into view.
    await waitFor(
      async () =>
        (await rbac.readClusterRole({ name: "view" })).rules?.some((r) => r.resources?.includes(IMPACT_PLURAL)),
      { what: "view aggregates kernelpanicimpacts", timeoutMs: 30_000 },
    );
    const { stdout } = await waitFor(() => why(`${mine}/web-1`).catch(() => undefined), {
      what: "alice's view role to take effect",
      timeoutMs: 30_000,
    });
    assert.match(stdout, new RegExp(`^${mine}/web-1 \\(uid `));
    assert.match(stdout, /node:\s+worker-3, which had a kernel panic at 2026-12-07T06:00:00.000Z/);
    assert.match(stdout, /signature:\s+BUG: kernel NULL pointer dereference in foo/);
    await assert.rejects(why(`${theirs}/web-1`), refused);
    // By UID: every namespace is refused to it, so it is told to name its own.
    const uid = "0b8e7c38-8b43-4a8b-9a62-64f1c2d1e0aa";
    await assert.rejects(why(uid), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 1);
      assert.match(
        err.stderr,
        /^lastgasp why: a UID alone .* give --namespace to look in one: 403: .*forbidden[^\n]*\n$/i,
      );
      return true;
    });
    const byUid = await exec(process.execPath, [bin, "why", "--kubeconfig", kubeconfig, "--namespace", mine, uid]);
    assert.match(byUid.stdout, new RegExp(`^${mine}/web-1 \\(uid ${uid}\\)`));
  });
});
