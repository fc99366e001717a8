// The command line against a running receiver: `lastgasp send --from 127.0.0.x` makes a KernelPanicEvent
// appear, as a node's kernel would; the receiver serves metrics and health; IPv6 works too.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { encodePlain } from "../../operator/netconsole/encode.ts";
import { sendDatagrams } from "../../operator/sender/send.ts";
import { adminKubeConfig } from "../harness/cluster.ts";
import { eventsFor, startTestReceiver, NO_NODES } from "../harness/receiver.ts";
import type { Receiver } from "../../operator/receiver/main/service.ts";
import { kernelLogsDir } from "../harness/kernel-logs.ts";

const bin = fileURLToPath(new URL("../../bin/lastgasp.ts", import.meta.url));
const netflix = `${kernelLogsDir()}/netflix-blog.log`;
const kc = adminKubeConfig();

describe("lastgasp send → receiver", () => {
  let receiver: Receiver;
  let target: string;
  before(async () => {
    ({ receiver, target } = await startTestReceiver(kc, ["--listen", "127.0.0.1:0,[::1]:0", ...NO_NODES]));
  });
  after(async () => {
    await receiver.stop();
  });

  it("replays a kernel log from a node's address and the panic is recorded", async () => {
    const { stderr } = await promisify(execFile)(process.execPath, [
      bin,
      "send",
      "--to",
      target,
      "--from",
      "127.0.0.7",
      "--extended",
      "--userdata",
      "node=worker-7",
      netflix,
    ]);
    assert.match(stderr, /sent 21 packets \(21 lines\)/);
    const [event] = await eventsFor(kc, "127.0.0.7");
    assert.deepEqual(event!.spec.userdata, { node: "worker-7" });
  });

  it("hears IPv6 sources", async () => {
    const v6 = `[::1]:${receiver.udpPorts[1]!}`;
    await sendDatagrams(
      encodePlain(["[ 2.000000] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000009"]),
      { to: v6, from: "::1" },
    );
    const [event] = await eventsFor(kc, "::1");
    assert.match(event!.metadata.name, /^1-[0-9a-f]{12}$/);
    assert.equal(event!.spec.reason, "Attempted to kill init! exitcode=0x00000009");
  });

  it("serves /metrics, /healthz and /readyz", async () => {
    const base = `http://127.0.0.1:${receiver.httpPort}`;
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /^lastgasp_receiver_packets_total \d+/m);
    assert.match(metrics, /^lastgasp_receiver_panics_detected_total [1-9]/m);
    assert.match(metrics, /^lastgasp_receiver_events_created_total\{result="created"\} [1-9]/m);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    assert.equal((await fetch(`${base}/nope`)).status, 404);
  });

  it("refuses to start with bad configuration, naming the problem", async () => {
    const result = await promisify(execFile)(process.execPath, [
      bin,
      "receiver",
      "--listen",
      "127.0.0.1:99999",
      "--allowed-source-cidrs",
      "10.0.0.0/33",
    ]).catch((err: unknown) => err as { code: number; stderr: string });
    assert.ok("code" in result && result.code === 2);
    assert.match(result.stderr, /--listen: invalid address/);
    assert.match(result.stderr, /--allowed-source-cidrs: invalid CIDR "10.0.0.0\/33"/);
  });
});
