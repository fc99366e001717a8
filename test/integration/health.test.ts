// Health that means something: a component that cannot use its credentials refuses to start with a clear
// message; a reconciler whose watch is down (its API connection cut) fails liveness and recovers with it
// (a watch stopped for good, and a stuck reconcile: stallReason in test/unit/reconciler.test.ts).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import type { Reconciler } from "../../operator/reconciler/loop/controller.ts";
import { adminKubeConfig, uniqueName } from "../harness/cluster.ts";
import { endpointOf, kubeConfigFromYaml, kubeconfigYaml } from "../harness/kubeconfig.ts";
import { startTestReconciler } from "../harness/reconciler.ts";
import { startTcpProxy, type TcpProxy } from "../harness/tcp-proxy.ts";
import { serviceAccountKubeConfig } from "../harness/tokens.ts";
import { waitFor } from "../harness/wait.ts";

const bin = fileURLToPath(new URL("../../bin/lastgasp.ts", import.meta.url));
const kc = adminKubeConfig();

/** Runs `lastgasp <args>` to its exit, with `env` replacing the credentials-related environment. */
async function lastgasp(args: string[], env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  const clean = { ...process.env, KUBECONFIG: "", KUBERNETES_SERVICE_HOST: undefined, ...env };
  return promisify(execFile)(process.execPath, [bin, ...args], { env: clean, timeout: 30_000 }).then(
    (r) => ({ code: 0, stderr: r.stderr }),
    (err: unknown) => err as { code: number; stderr: string },
  );
}

describe("start-up without usable credentials", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "lastgasp-health-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const receiver = ["receiver", "--listen", "127.0.0.1:0", "--http-address", "127.0.0.1:0"];

  it("no kubeconfig at all: the receiver exits at once, saying where it looked", async () => {
    const result = await lastgasp(receiver, { HOME: dir });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /lastgasp receiver: no Kubernetes credentials: pass --kubeconfig, set KUBECONFIG/);
  });

  it("a token the API server does not accept: exits naming the server and the refusal", async () => {
    const file = join(dir, "bad-token");
    await writeFile(file, kubeconfigYaml(endpointOf(kc), "nobody", "not-a-token"));
    const result = await lastgasp([...receiver, "--kubeconfig", file], { HOME: dir });
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      new RegExp(`cannot use the API server ${endpointOf(kc).server}: it does not accept these credentials \\(401`),
    );
  });

  it("credentials without the permissions: exits listing what is missing", async () => {
    const sa = await serviceAccountKubeConfig(kc, "default", uniqueName("no-rbac"));
    const file = join(dir, "no-rbac");
    await writeFile(file, kubeconfigYaml(endpointOf(sa), "sa", sa.getCurrentUser()!.token!));
    const rec = await lastgasp([...receiver, "--kubeconfig", file], { HOME: dir });
    assert.equal(rec.code, 1);
    assert.match(rec.stderr, /may not create kernelpanicevents\.lastgasp\.dev, list nodes/);
    const recon = await lastgasp(["reconciler", "--http-address", "127.0.0.1:0", "--kubeconfig", file], { HOME: dir });
    assert.equal(recon.code, 1);
    assert.match(recon.stderr, /may not watch kernelpanicevents\.lastgasp\.dev, patch kernelpanicevents\/status/);
  });
});

describe("reconciler liveness follows its watch", () => {
  let proxy: TcpProxy;
  let reconciler: Reconciler;
  let healthz: string;
  const status = async () => (await fetch(healthz)).status;
  /** What the reconciler's /metrics says of its KernelPanicEvent watch. */
  const watchConnected = async () =>
    /^lastgasp_reconciler_event_watch_connected 1$/m.test(
      await (await fetch(`http://127.0.0.1:${reconciler.httpPort}/metrics`)).text(),
    );

  before(async () => {
    const server = new URL(endpointOf(kc).server);
    proxy = await startTcpProxy(server.hostname, Number(server.port));
    const endpoint = { ...endpointOf(kc), server: `https://127.0.0.1:${proxy.port}` };
    const viaProxy = kubeConfigFromYaml(kubeconfigYaml(endpoint, "admin", kc.getCurrentUser()!.token!));
    reconciler = await startTestReconciler(viaProxy, ["--leader-elect", "false", "--stall-seconds", "2"]);
    healthz = `http://127.0.0.1:${reconciler.httpPort}/healthz`;
    await waitFor(watchConnected, { what: "the watch to connect", timeoutMs: 20_000 });
  });
  after(async () => {
    await reconciler.stop();
    await proxy.close();
  });

  it("is alive while watching", async () => {
    assert.equal(await status(), 200);
  });

  it("fails once the watch has been down for stallSeconds, and recovers when it reconnects", async () => {
    await proxy.cut();
    await waitFor(async () => (await status()) === 503, { what: "/healthz to fail", timeoutMs: 20_000 });
    assert.match(reconciler.stalled() ?? "", /watch has been down/);
    await proxy.restore();
    await waitFor(async () => (await status()) === 200, { what: "/healthz to recover", timeoutMs: 60_000 });
    await waitFor(watchConnected, { what: "the watch to reconnect", timeoutMs: 20_000 });
  });
});
