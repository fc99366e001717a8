// Netconsole coverage end to end on loopback: the real `lastgasp agent` process configures a stand-in configfs
// directory and writes its self-test line to a stand-in kernel log; a netconsole emulator (the kernel's part)
// sends that line as the kernel would, from the node's address (127.0.0.x); the receiver recognises it and stamps
// the Node; the reconciler counts the node as covered, and flags it (Event + metric) once it falls silent.
import { CoreV1Api, PatchStrategy, setHeaderOptions, type CoreV1Event } from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { ANNOTATIONS } from "../../operator/api/keys.ts";
import { formatSelfTest } from "../../operator/api/selftest.ts";
import type { Reconciler } from "../../operator/reconciler/loop/controller.ts";
import type { Receiver } from "../../operator/receiver/main/service.ts";
import { encodeExtended } from "../../operator/netconsole/encode.ts";
import { sendDatagrams } from "../../operator/sender/send.ts";
import { adminKubeConfig, testKubeconfigPath, uniqueName } from "../harness/cluster.ts";
import { standInNode, type StandInNode } from "../harness/agent-node.ts";
import { NetconsoleEmulator } from "../harness/netconsole-emulator.ts";
import { ManagedProcess } from "../harness/processes.ts";
import { startTestReceiver } from "../harness/receiver.ts";
import { startTestReconciler } from "../harness/reconciler.ts";
import { waitFor } from "../harness/wait.ts";
import { createNodeWithPods } from "../harness/workloads.ts";

const bin = fileURLToPath(new URL("../../bin/lastgasp.ts", import.meta.url));
const kc = adminKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const BOOT_ID = "3d2c1b0a-9f8e-4d7c-8b6a-5f4e3d2c1b0a";
const SILENT_AFTER_SECONDS = 4;

describe("netconsole coverage", () => {
  let dir: string;
  let receiver: Receiver;
  let target: string;
  let reconciler: Reconciler;
  let emulator: NetconsoleEmulator;
  let agent: ManagedProcess | undefined;
  let node: StandInNode;
  const covered = uniqueName("covered");
  const other = uniqueName("other");

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "lastgasp-coverage-"));
    node = await standInNode(dir, BOOT_ID);
    ({ receiver, target } = await startTestReceiver(kc, ["--coverage-interval-seconds", "1"]));
    reconciler = await startTestReconciler(kc, [
      "--netconsole-silent-after-seconds",
      String(SILENT_AFTER_SECONDS),
      "--coverage-check-seconds",
      "1",
    ]);
    await createNodeWithPods(kc, { namespace: "coverage", nodeName: covered, ip: "127.0.0.41" }, 0);
    await createNodeWithPods(kc, { namespace: "coverage", nodeName: other, ip: "127.0.0.42" }, 0);
    emulator = new NetconsoleEmulator(node.configfsRoot, node.kmsgPath);
  });
  after(async () => {
    await agent?.stop();
    await emulator.stop();
    await receiver.stop();
    await reconciler.stop();
    for (const name of [covered, other]) await core.deleteNode({ name }).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  /** The agent of Node `name` at `sourceIp` on the stand-in node; `flags` after the stand-in's (the last wins). */
  function startAgent(name = covered, sourceIp = "127.0.0.41", flags: string[] = []): ManagedProcess {
    return new ManagedProcess({
      name: `agent of ${name}`,
      command: process.execPath,
      args: [
        bin,
        "agent",
        "--receivers",
        target,
        "--source-ip",
        sourceIp,
        "--node-name",
        name,
        "--check-interval-seconds",
        "1",
        "--self-test-interval-seconds",
        "3600",
        ...node.flags,
        ...flags,
      ],
      logFile: join(dir, `agent-${name}.log`),
    });
  }

  const lastSeen = async (name: string) =>
    (await core.readNode({ name })).metadata?.annotations?.[ANNOTATIONS.netconsoleLastSeen];
  const metrics = async (port: number) => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const nodeEvents = async (name: string, reason: string): Promise<CoreV1Event[]> =>
    (
      await core.listNamespacedEvent({ namespace: "default", fieldSelector: `involvedObject.name=${name}` })
    ).items.filter((e) => e.reason === reason);

  it("a node whose agent's self-test arrives is shown as covered", async () => {
    agent = startAgent();
    const stamp = await waitFor(async () => lastSeen(covered), { what: `${covered} stamped`, timeoutMs: 20_000 });
    assert.ok(Math.abs(Date.now() - Date.parse(stamp)) < 30_000, stamp);
    assert.equal(await lastSeen(other), undefined, "only the node that sent is covered");
    const text = await waitFor(
      async () => {
        const m = await metrics(reconciler.httpPort);
        return /lastgasp_netconsole_nodes\{state="covered"\} [1-9]/.test(m) ? m : undefined;
      },
      { what: "a covered node in the reconciler's metrics", timeoutMs: 10_000 },
    );
    assert.match(text, /lastgasp_nodes [1-9]/);
    assert.match(await metrics(receiver.httpPort), /lastgasp_receiver_self_tests_total\{result="recorded"\} 1/);
  });

  it("a self-test naming another node, from this node's address, does not cover it", async () => {
    const forged = encodeExtended([`<12>${formatSelfTest({ node: other, bootId: BOOT_ID })}`], { extended: true });
    await sendDatagrams(forged, { to: target, from: "127.0.0.41" });
    await waitFor(
      async () => /self_tests_total\{result="address_mismatch"\} 1/.test(await metrics(receiver.httpPort)),
      { what: "the forged self-test to be counted as address_mismatch" },
    );
    assert.equal(await lastSeen(other), undefined);
  });

  it("SIGTERM leaves the netconsole target in place; the silent node is then flagged, and unflagged when heard again", async () => {
    await agent!.stop();
    assert.equal(await agent!.exited, 0);
    const enabled = await readFile(join(node.configfsRoot, "netconsole", "lastgasp", "enabled"), "utf8");
    assert.equal(enabled.trim(), "1", "the target survives the agent");

    const [flag] = await waitFor(async () => nonEmpty(await nodeEvents(covered, "NetconsoleSilent")), {
      what: `a NetconsoleSilent Event for ${covered}`,
      timeoutMs: (SILENT_AFTER_SECONDS + 10) * 1000,
    });
    assert.equal(flag!.type, "Warning");
    assert.match(
      flag!.message ?? "",
      /netconsole not heard from this node since .* a kernel panic here would go unrecorded/,
    );
    assert.match(
      await metrics(reconciler.httpPort),
      new RegExp(`lastgasp_netconsole_silent_node\\{node="${covered}"\\} 1`),
    );
    assert.match(await metrics(reconciler.httpPort), /lastgasp_netconsole_nodes\{state="silent"\} [1-9]/);

    agent = startAgent(); // configures nothing new, but self-tests at start
    await waitFor(async () => nonEmpty(await nodeEvents(covered, "NetconsoleHeardAgain")), {
      what: `a NetconsoleHeardAgain Event for ${covered}`,
      timeoutMs: 20_000,
    });
    assert.doesNotMatch(await metrics(reconciler.httpPort), new RegExp(`silent_node\\{node="${covered}"\\}`));
  });

  it("an agent on a node whose kernel cannot run netconsole stays up and says why, on the Node", async () => {
    const bare = uniqueName("bare");
    await createNodeWithPods(kc, { namespace: "coverage", nodeName: bare, ip: "127.0.0.43" }, 0);
    // This node has no configfs at all.
    const lonely = startAgent(bare, "127.0.0.43", ["--configfs-root", join(dir, "no-configfs")]);
    try {
      const reason = await waitFor(
        async () => (await core.readNode({ name: bare })).metadata?.annotations?.[ANNOTATIONS.netconsoleUnavailable],
        { what: `${bare} annotated ${ANNOTATIONS.netconsoleUnavailable}`, timeoutMs: 20_000 },
      );
      assert.match(reason, /no-configfs does not exist: configfs is not mounted on this node/);
      const [flag] = await waitFor(async () => nonEmpty(await nodeEvents(bare, "NetconsoleUnavailable")), {
        what: `a NetconsoleUnavailable Event for ${bare}`,
        timeoutMs: 20_000,
      });
      assert.match(flag!.message ?? "", /cannot set up netconsole: .*configfs is not mounted/);
      assert.match(await metrics(reconciler.httpPort), /lastgasp_netconsole_nodes\{state="unavailable"\} 1/);
      assert.equal(lonely.running, true, "the agent stays up (no crash loop)");
    } finally {
      await lonely.stop();
      await core.deleteNode({ name: bare }).catch(() => undefined);
    }
  });
  it("an agent with lastWords says on its Node what it keeps; the reconciler counts it; `lastgasp coverage` shows netconsole, pstore and kdump per node", async () => {
    await agent?.stop();
    // The stand-in node has ramoops (128 KiB records) and no kdump kernel.
    agent = startAgent(covered, "127.0.0.41", ["--last-words", "true", "--kubeconfig", testKubeconfigPath()]);
    await waitFor(
      async () =>
        (await core.readNode({ name: covered })).metadata?.annotations?.[ANNOTATIONS.lastWords] ===
        "pstore=ramoops/131072 kdump=none",
      { what: `${covered} annotated ${ANNOTATIONS.lastWords}`, timeoutMs: 20_000 },
    );
    // Another node's agent found neither, and its netconsole is not heard: nothing would be kept of a panic there.
    await core.patchNode(
      { name: other, body: { metadata: { annotations: { [ANNOTATIONS.lastWords]: "pstore=none kdump=none" } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    const text = await waitFor(
      async () => {
        const m = await metrics(reconciler.httpPort);
        return m.includes(`lastgasp_node_without_last_words{node="${other}"} 1`) ? m : undefined;
      },
      { what: `${other} counted without last words`, timeoutMs: 10_000 },
    );
    assert.match(text, /lastgasp_last_words_nodes\{kind="pstore"\} [1-9]/);
    assert.match(text, /lastgasp_last_words_nodes\{kind="netconsole"\} [1-9]/);
    assert.doesNotMatch(text, new RegExp(`without_last_words\\{node="${covered}"\\}`));

    const out = await promisify(execFile)(process.execPath, [
      bin,
      "coverage",
      "--format",
      "json",
      "--kubeconfig",
      testKubeconfigPath(),
    ]);
    const rows = out.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { node: string; netconsole: string; pstore: string; kdump: string });
    assert.deepEqual(
      rows.find((r) => r.node === covered),
      { node: covered, netconsole: "covered", pstore: "ramoops (131072 B records)", kdump: "none" },
    );
    assert.deepEqual(
      rows.find((r) => r.node === other),
      { node: other, netconsole: "unheard", pstore: "none", kdump: "none" },
    );
  });
});

function nonEmpty<T>(items: T[]): T[] | undefined {
  return items.length > 0 ? items : undefined;
}
