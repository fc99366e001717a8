// The production build (hack/bundle.ts), which the image runs: the command, its receive threads (a second entry
// point found beside the first) and the built-in patterns (a file beside the bundle), with every dependency
// inlined and no node_modules beside it, and the batched-receive addon beside it. Run from a directory of its own,
// as the image runs it, it records a panic sent from a Node's address; without the addon, on Node's dgram too.
import { CoreV1Api } from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { encodeExtended } from "../../operator/netconsole/encode.ts";
import { sendDatagrams } from "../../operator/sender/send.ts";
import { adminKubeConfig, testKubeconfigPath, uniqueName } from "../harness/cluster.ts";
import { freePort } from "../harness/ports.ts";
import { ManagedProcess } from "../harness/processes.ts";
import { eventsFor } from "../harness/receiver.ts";
import { waitFor } from "../harness/wait.ts";
import { createNodeWithPods } from "../harness/workloads.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const exec = promisify(execFile);
const kc = adminKubeConfig();

describe("the production build (bundle)", () => {
  let app: string;
  let receiver: ManagedProcess | undefined;
  const node = uniqueName("bundled");
  const ip = "127.0.0.91";
  const node2 = uniqueName("bundled-dgram");
  const ip2 = "127.0.0.92";

  before(async () => {
    // Laid out as in the image: /app/package.json and /app/dist/, nothing else.
    app = mkdtempSync(join(tmpdir(), "lastgasp-app-"));
    await exec(process.execPath, [join(root, "hack/bundle.ts"), join(app, "dist")], { timeout: 120_000 });
    copyFileSync(join(root, "package.json"), join(app, "package.json"));
    await createNodeWithPods(kc, { namespace: "bundle", nodeName: node, ip }, 0);
    await createNodeWithPods(kc, { namespace: "bundle", nodeName: node2, ip: ip2 }, 0);
  });
  after(async () => {
    await receiver?.stop();
    for (const name of [node, node2])
      await kc
        .makeApiClient(CoreV1Api)
        .deleteNode({ name })
        .catch(() => undefined);
    rmSync(app, { recursive: true, force: true });
  });

  it("carries no TypeScript and no node_modules, and reports its version", async () => {
    assert.equal(existsSync(join(app, "node_modules")), false);
    assert.equal(existsSync(join(app, "dist/ingest-worker.js")), true);
    const { stdout } = await exec(process.execPath, [join(app, "dist/lastgasp.js"), "--version"], { cwd: app });
    const version = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;
    assert.match(stdout, new RegExp(`^lastgasp ${version.replaceAll(".", "\\.")} `));
  });

  /** Runs the bundled receiver with two receive threads; resolves once it is ready, with its log and metrics. */
  async function startBundled(name: string): Promise<{ udp: number; log: string; metrics: () => Promise<string> }> {
    // A TCP port found free is as good as free for UDP here: nothing else in the run listens on it.
    const [udp, http] = [await freePort(), await freePort()];
    const log = join(app, `${name}.log`);
    await receiver?.stop();
    receiver = new ManagedProcess({
      name,
      command: process.execPath,
      args: [
        join(app, "dist/lastgasp.js"),
        "receiver",
        "--kubeconfig",
        testKubeconfigPath(),
        "--listen",
        `127.0.0.1:${udp}`,
        "--http-address",
        `127.0.0.1:${http}`,
        "--receive-threads",
        "2",
      ],
      logFile: log,
    });
    await waitFor(async () => (await fetch(`http://127.0.0.1:${http}/readyz`).catch(() => undefined))?.ok, {
      what: `the bundled receiver ready (${log})`,
      timeoutMs: 30_000,
    });
    return { udp, log, metrics: async () => (await fetch(`http://127.0.0.1:${http}/metrics`)).text() };
  }

  async function recordsPanic(udp: number, from: string, reason: string): Promise<void> {
    await sendDatagrams(
      encodeExtended([`<0>[  100.000000] Kernel panic - not syncing: ${reason}`], { extended: true }),
      {
        to: `127.0.0.1:${udp}`,
        from,
      },
    );
    const [event] = await eventsFor(kc, from);
    assert.equal(event!.spec.reason, reason);
    assert.equal(event!.spec.hostIP, from);
  }

  /** The receive path the "Started receiver" line names. */
  function startedPath(log: string): unknown {
    const started = readFileSync(log, "utf8")
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((line) => line.message === "Started receiver");
    return started?.receivePath;
  }

  it("runs the receiver, its receive threads, their batched-receive addon and patterns included, and records a panic", async () => {
    assert.equal(existsSync(join(app, "dist/batch_recv.node")), true, "the addon beside the bundle");
    const { udp, log, metrics } = await startBundled("bundled-receiver");
    assert.equal(startedPath(log), "recvmmsg");
    assert.match(await metrics(), /^lastgasp_receiver_receive_threads\{path="recvmmsg"\} 2$/m);
    await recordsPanic(udp, ip, "from the bundle");
  });

  it("without the addon, receives through Node's dgram, says so, and still records a panic", async () => {
    rmSync(join(app, "dist/batch_recv.node"));
    const { udp, log, metrics } = await startBundled("bundled-receiver-dgram");
    assert.equal(startedPath(log), "dgram");
    assert.match(
      readFileSync(log, "utf8"),
      /Receiving with Node's dgram: the batched-receive addon could not be loaded/,
    );
    assert.match(await metrics(), /^lastgasp_receiver_receive_threads\{path="dgram"\} 2$/m);
    await recordsPanic(udp, ip2, "from the bundle on dgram");
  });
});
