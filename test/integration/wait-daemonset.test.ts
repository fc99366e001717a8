// `lastgasp wait-daemonset`, which the chart's uninstall hook runs: it waits for the agent-remove DaemonSet's pods
// on every node, and a node that cannot run its pod (here a Node with no kubelet: the pod is bound and never
// starts) must not wedge `helm uninstall`: with --fail-on-timeout=false it says what was left and exits 0.
import { AppsV1Api, CoreV1Api } from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { adminKubeConfig, testKubeconfigPath, uniqueName } from "../harness/cluster.ts";
import { waitFor } from "../harness/wait.ts";

const bin = fileURLToPath(new URL("../../bin/lastgasp.ts", import.meta.url));
const kc = adminKubeConfig();
const namespace = uniqueName("wait-daemonset");
const node = uniqueName("no-kubelet");

async function wait(...flags: string[]): Promise<{ code: number; stderr: string }> {
  const args = [
    bin,
    "wait-daemonset",
    "stuck",
    "--namespace",
    namespace,
    "--kubeconfig",
    testKubeconfigPath(),
    ...flags,
  ];
  try {
    const { stderr } = await promisify(execFile)(process.execPath, args, { timeout: 60_000 });
    return { code: 0, stderr };
  } catch (err) {
    const e = err as { code?: number; stderr?: string };
    return { code: e.code ?? -1, stderr: e.stderr ?? "" };
  }
}

describe("lastgasp wait-daemonset", () => {
  before(async () => {
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    // No kwok annotation: no kubelet runs this Node's pods.
    await core.createNode({ body: { metadata: { name: node, labels: { "lastgasp-test": namespace } } } });
    await kc.makeApiClient(AppsV1Api).createNamespacedDaemonSet({
      namespace,
      body: {
        metadata: { name: "stuck" },
        spec: {
          selector: { matchLabels: { app: "stuck" } },
          template: {
            metadata: { labels: { app: "stuck" } },
            spec: {
              nodeSelector: { "lastgasp-test": namespace },
              containers: [{ name: "c", image: "registry.invalid/none:1" }],
            },
          },
        },
      },
    });
    await waitFor(
      async () => {
        const ds = await kc.makeApiClient(AppsV1Api).readNamespacedDaemonSet({ name: "stuck", namespace });
        return (ds.status?.desiredNumberScheduled ?? 0) === 1;
      },
      { what: "the DaemonSet controller to want a pod on the kubelet-less node" },
    );
  });
  after(async () => {
    await kc.makeApiClient(CoreV1Api).deleteNamespace({ name: namespace });
    await kc.makeApiClient(CoreV1Api).deleteNode({ name: node });
  });

  it("fails after its timeout by default", async () => {
    const { code, stderr } = await wait("--timeout-seconds", "3");
    assert.equal(code, 1, stderr);
    assert.match(stderr, /not ready after 3 s \(0\/1 pods ready\)/);
  });

  it("with --fail-on-timeout=false (the chart's hook) says what was left and succeeds", async () => {
    const { code, stderr } = await wait("--timeout-seconds", "3", "--fail-on-timeout=false");
    assert.equal(code, 0, stderr);
    assert.match(
      stderr,
      /gave up after 3 s \(0\/1 pods ready\): the nodes whose pod is not ready keep their netconsole targets/,
    );
  });
});
