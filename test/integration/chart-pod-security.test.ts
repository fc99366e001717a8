// `helm install` refuses, naming the level, to install the agent or hostNetwork receivers into a namespace whose
// Pod Security level would refuse their pods (charts/lastgasp/templates/check-pod-security.yaml): otherwise the
// install reports success while the DaemonSet or Deployment sits in FailedCreate.
import { CoreV1Api } from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ensureBinaries, required } from "../harness/binaries.ts";
import { adminKubeConfig, testKubeconfigPath, uniqueName } from "../harness/cluster.ts";

const chartDir = fileURLToPath(new URL("../../charts/lastgasp", import.meta.url));
const exec = promisify(execFile);
let helm: string;

async function runHelm(...args: string[]): Promise<{ stdout: string }> {
  return exec(helm, [...args, "--kubeconfig", testKubeconfigPath()], { maxBuffer: 16 << 20 });
}

describe("helm install and the namespace's Pod Security level", () => {
  before(async () => {
    helm = required(await ensureBinaries(["helm"]), "HELM");
  });

  it("refuses the agent or hostNetwork receivers where the level would refuse their pods", async () => {
    const restricted = uniqueName("lastgasp-baseline");
    await adminKubeConfig()
      .makeApiClient(CoreV1Api)
      .createNamespace({
        body: { metadata: { name: restricted, labels: { "pod-security.kubernetes.io/enforce": "baseline" } } },
      });
    const agent = ["--set", "agent.enabled=true", "--set", "agent.config.receivers={10.0.0.5:6666}"];
    await assert.rejects(
      runHelm("install", "psa", chartDir, "-n", restricted, ...agent),
      new RegExp(
        `namespace ${restricted} enforces the "baseline" Pod Security level, which refuses the pods of the agent \\(agent.enabled\\)`,
      ),
    );
    await assert.rejects(
      runHelm("install", "psa", chartDir, "-n", restricted, "--set", "receiver.hostNetwork=true"),
      /refuses the pods of hostNetwork receivers/,
    );
    assert.equal((await runHelm("list", "-n", restricted, "-a", "-q")).stdout.trim(), "", "nothing was installed");
    // The same install passes the check where the level is privileged (a server-side dry run: nothing is kept).
    const privileged = uniqueName("lastgasp-privileged");
    await adminKubeConfig()
      .makeApiClient(CoreV1Api)
      .createNamespace({
        body: { metadata: { name: privileged, labels: { "pod-security.kubernetes.io/enforce": "privileged" } } },
      });
    await runHelm("install", "psa", chartDir, "-n", privileged, ...agent, "--dry-run=server", "--skip-crds");
  });
});
