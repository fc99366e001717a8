// The receiver's SIGTERM drain, end to end: the `lastgasp receiver` process as a pod runs it, signalled as the
// kubelet signals it. It completes the panic whose context it was still collecting and records it; with the API
// server out of reach it spools what it could not write and exits within its grace, and the next receiver on
// the spool records it.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { encodePlain } from "../../operator/netconsole/encode.ts";
import { sendDatagrams } from "../../operator/sender/send.ts";
import { adminKubeConfig } from "../harness/cluster.ts";
import { endpointOf, kubeconfigYaml } from "../harness/kubeconfig.ts";
import { NO_NODES, eventsFor } from "../harness/receiver.ts";
import { startTcpProxy, type TcpProxy } from "../harness/tcp-proxy.ts";
import { waitFor } from "../harness/wait.ts";

const bin = fileURLToPath(new URL("../../bin/lastgasp.ts", import.meta.url));
const kc = adminKubeConfig();
const GRACE_SECONDS = 2;
/**
 * The longest context the settings allow (5 s of quiet, 10 s at most): the panic is still being collected when the
 * test signals, a moment after its datagrams were counted. The logs show the order.
 */
const SLOW_CONTEXT = ["--context-quiet-ms", "5000", "--context-deadline-ms", "10000"];
const panicLines = (n: number) => [
  `[ 10.0${n}] Kernel panic - not syncing: drained ${n}`,
  `[ 10.1${n}] CPU: 0 PID: 1 Comm: init`,
  `[ 10.2${n}] Call Trace:`,
];

/** A `lastgasp receiver` process; resolves once it logged that it started, with the UDP port it listens on. */
async function startReceiverProcess(
  kubeconfig: string,
  flags: string[],
): Promise<{
  child: ChildProcess;
  target: string;
  exited: Promise<number | null>;
  logs: () => string;
  heard: (datagrams: number) => Promise<void>;
}> {
  const args = [
    bin,
    "receiver",
    "--kubeconfig",
    kubeconfig,
    "--listen",
    "127.0.0.1:0",
    "--http-address",
    "127.0.0.1:0",
  ];
  const child = spawn(process.execPath, [...args, ...NO_NODES, "--log-level", "info", ...flags], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  // Its logs are JSON lines on stdout; stderr has only what the command itself says (a start failure).
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  const started = await waitFor(
    () => {
      const line = stdout.split("\n").find((l) => l.includes('"message":"Started receiver"'));
      return line === undefined ? undefined : (JSON.parse(line) as { udpPorts: number[]; httpPort: number });
    },
    { what: "the receiver to start", timeoutMs: 30_000 },
  ).catch((err: unknown) => {
    child.kill("SIGKILL");
    throw new Error(`${(err as Error).message}\n${stdout}${stderr}`);
  });
  const metrics = async () => (await fetch(`http://127.0.0.1:${started.httpPort}/metrics`)).text();
  const heard = async (datagrams: number) => {
    await waitFor(async () => new RegExp(`^lastgasp_receiver_packets_total ${datagrams}$`, "m").test(await metrics()), {
      what: `${datagrams} datagrams counted`,
    });
  };
  return { child, target: `127.0.0.1:${started.udpPorts[0]!}`, exited, logs: () => stdout, heard };
}

describe("the receiver's SIGTERM drain (the real process)", () => {
  let dir: string;
  let proxy: TcpProxy;
  let kubeconfig: string;
  const children: ChildProcess[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "lastgasp-drain-"));
    const server = new URL(endpointOf(kc).server);
    proxy = await startTcpProxy(server.hostname, Number(server.port));
    kubeconfig = join(dir, "kubeconfig");
    const endpoint = { ...endpointOf(kc), server: `https://127.0.0.1:${proxy.port}` };
    writeFileSync(kubeconfig, kubeconfigYaml(endpoint, "admin", kc.getCurrentUser()!.token!));
  });
  after(async () => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    await proxy.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("records the panic whose context it was still collecting, and exits 0", async () => {
    const receiver = await startReceiverProcess(kubeconfig, SLOW_CONTEXT);
    children.push(receiver.child);
    await sendDatagrams(encodePlain(panicLines(1)), { to: receiver.target, from: "127.0.0.151" });
    await receiver.heard(3);
    receiver.child.kill("SIGTERM");
    assert.equal(await receiver.exited, 0, receiver.logs());
    const logs = receiver.logs();
    assert.ok(
      logs.indexOf('"message":"Stopping receiver') < logs.indexOf('"message":"Detected kernel panic"'),
      `the stop completed the panic (not its quiet period):\n${logs}`,
    );
    const [event] = await eventsFor(kc, "127.0.0.151");
    assert.equal(event!.spec.reason, "drained 1");
    assert.deepEqual(event!.spec.contextLines.slice(-2), ["CPU: 0 PID: 1 Comm: init", "Call Trace:"]);
  });

  it("API server out of reach: spools what it could not write, exits within its grace; the next receiver records it", async () => {
    const spool = join(dir, "spool");
    const flags = [...SLOW_CONTEXT, "--shutdown-grace-seconds", String(GRACE_SECONDS), "--spool-directory", spool];
    const first = await startReceiverProcess(kubeconfig, flags);
    children.push(first.child);
    await sendDatagrams(encodePlain(panicLines(2)), { to: first.target, from: "127.0.0.152" });
    await first.heard(3);
    await proxy.cut();
    first.child.kill("SIGTERM");
    assert.equal(await first.exited, 0, first.logs());
    assert.equal(readdirSync(spool).filter((f) => f.endsWith(".json")).length, 1, "spooled at shutdown");

    await proxy.restore();
    const second = await startReceiverProcess(kubeconfig, flags);
    children.push(second.child);
    const [event] = await eventsFor(kc, "127.0.0.152", 1, 30_000);
    assert.equal(event!.spec.reason, "drained 2");
    await waitFor(() => readdirSync(spool).length === 0, { what: "the spool emptied once written" });
    second.child.kill("SIGTERM");
    assert.equal(await second.exited, 0, second.logs());
  });
});
