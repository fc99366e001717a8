// hack/controlplane/ensure.sh is the single resolver of control-plane binaries; these tests pin its contract
// without building anything (an unknown component fails; KUBEBUILDER_ASSETS overrides the build).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, it } from "node:test";

const script = fileURLToPath(new URL("../../hack/controlplane/ensure.sh", import.meta.url));
const exec = promisify(execFile);

describe("hack/controlplane/ensure.sh", () => {
  it("uses binaries from KUBEBUILDER_ASSETS instead of building them", async () => {
    const assets = mkdtempSync(join(tmpdir(), "assets-"));
    try {
      const names = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl"];
      for (const name of names) {
        writeFileSync(join(assets, name), "#!/bin/sh\n");
        chmodSync(join(assets, name), 0o755);
      }
      const { stdout } = await exec("bash", [script, "etcd", "kubernetes"], {
        env: { ...process.env, KUBEBUILDER_ASSETS: assets },
      });
      assert.deepEqual(stdout.trim().split("\n"), [
        `ETCD=${assets}/etcd`,
        `KUBE_APISERVER=${assets}/kube-apiserver`,
        `KUBE_CONTROLLER_MANAGER=${assets}/kube-controller-manager`,
        `KUBE_SCHEDULER=${assets}/kube-scheduler`,
        `KUBECTL=${assets}/kubectl`,
      ]);
    } finally {
      rmSync(assets, { recursive: true });
    }
  });

  it("rejects an unknown component", async () => {
    await assert.rejects(exec("bash", [script, "kubelet"]), (err: { code?: number; stderr?: string }) => {
      assert.equal(err.code, 2);
      assert.match(err.stderr ?? "", /unknown component 'kubelet'/);
      return true;
    });
  });
});
