// The receiver against the real control plane: netconsole packets sent over UDP from 127.0.0.x sources, as a
// node's kernel sends them, become KernelPanicEvents.
import { LABELS } from "../../operator/api/keys.ts";
import { CustomObjectsApi } from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { GROUP, PLURAL, VERSION } from "../../operator/api/kernelpanicevent.ts";
import { encodeExtended, encodePlain } from "../../operator/netconsole/encode.ts";
import { sendDatagrams } from "../../operator/sender/send.ts";
import { ensureBinaries, required } from "../harness/binaries.ts";
import { adminKubeConfig, testKubeconfigPath } from "../harness/cluster.ts";
import { waitFor } from "../harness/wait.ts";
import { eventsFor, startTestReceiver, NO_NODES } from "../harness/receiver.ts";
import type { Receiver } from "../../operator/receiver/main/service.ts";
import { kernelLogsDir } from "../harness/kernel-logs.ts";

const fixtures = `${kernelLogsDir()}/`;
const netflix = readFileSync(`${fixtures}netflix-blog.log`, "utf8").trimEnd().split("\n");
const hungTask = readFileSync(`${fixtures}syzkaller/447.log`, "utf8")
  .split("\n\n")
  .slice(1)
  .join("\n\n")
  .trimEnd()
  .split("\n");
const kc = adminKubeConfig();

describe("receiver", () => {
  let receiver: Receiver;
  let target: string;

  before(async () => {
    ({ receiver, target } = await startTestReceiver(kc, NO_NODES));
  });
  after(async () => {
    await receiver.stop();
  });

  it("records a plain-mode panic with its context", async () => {
    await sendDatagrams(encodePlain(netflix), { to: target, from: "127.0.0.101" });
    const [event] = await eventsFor(kc, "127.0.0.101");
    assert.match(event!.metadata.name, /^127-0-0-101-[0-9a-f]{12}$/);
    assert.equal(event!.spec.firstLine, "Kernel panic - not syncing: buffer overrun at 0x4ba4c73e73acce54");
    assert.equal(event!.spec.reason, "buffer overrun at 0x4ba4c73e73acce54");
    assert.equal(event!.spec.contextLines.length, 20);
    assert.equal(event!.spec.contextLines[1], "CPU: 1 PID: 139616 Comm: insmod Kdump: loaded Tainted: G OE");
    assert.ok(event!.spec.receivedBy.length > 0);
    assert.ok(Math.abs(Date.parse(event!.spec.detectedTime) - Date.now()) < 60_000);
  });

  it("records an extended-mode panic with its sequence number, uptime and cause", async () => {
    await sendDatagrams(encodeExtended(hungTask, { extended: true, firstSequence: 9000 }), {
      to: target,
      from: "127.0.0.102",
    });
    const [event] = await eventsFor(kc, "127.0.0.102");
    assert.equal(event!.spec.reason, "hung_task: blocked tasks");
    assert.match(event!.spec.cause ?? "", /^INFO: task syz-executor4:6761 blocked for more than 140 seconds\./);
    assert.equal(event!.spec.uptimeSeconds, 557.755339);
    assert.ok(event!.spec.sequence !== undefined && event!.spec.sequence >= 9000);
  });

  it("records a fragmented extended panic with its userdata", async () => {
    const userdata = {
      node: "worker-103",
      ...Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`label${i}`, "x".repeat(60)])),
    };
    const datagrams = encodeExtended(netflix, { extended: true, userdata });
    assert.ok(
      datagrams.some((d) => d.includes("ncfrag=")),
      "the records are large enough to be fragmented",
    );
    await sendDatagrams(datagrams, { to: target, from: "127.0.0.103" });
    const [event] = await eventsFor(kc, "127.0.0.103");
    assert.deepEqual(event!.spec.userdata, userdata);
    assert.equal(event!.spec.reason, "buffer overrun at 0x4ba4c73e73acce54");
  });

  it("records the kernel release prepended to extended records", async () => {
    await sendDatagrams(encodeExtended(netflix, { extended: true, release: "6.9.7-200.fc40.x86_64" }), {
      to: target,
      from: "127.0.0.104",
    });
    const [event] = await eventsFor(kc, "127.0.0.104");
    assert.equal(event!.spec.release, "6.9.7-200.fc40.x86_64");
  });

  it("keeps spec immutable once recorded", async () => {
    const [event] = await eventsFor(kc, "127.0.0.101");
    const objects = kc.makeApiClient(CustomObjectsApi);
    await assert.rejects(
      objects.replaceClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        name: event!.metadata.name,
        body: { ...event, spec: { ...event!.spec, reason: "forged" } },
      }),
      (err: { code?: number; body?: string }) => err.code === 422 && (err.body ?? "").includes("spec is immutable"),
    );
  });

  it("shows its columns in kubectl get kpe", async () => {
    const kubectl = required(await ensureBinaries(["kubernetes"]), "KUBECTL");
    const [event] = await eventsFor(kc, "127.0.0.102");
    const run = async (...args: string[]) =>
      (await promisify(execFile)(kubectl, ["--kubeconfig", testKubeconfigPath(), ...args])).stdout;
    const table = await run("get", "kpe", event!.metadata.name);
    assert.match(
      table.split("\n")[0]!,
      /^NAME\s+NODE\s+HOST IP\s+REASON\s+STATUS\s+REMEDIATED\s+CRASH LOOP\s+SUSPECTS\s+AGE$/,
    );
    assert.match(table.split("\n")[1]!, /127\.0\.0\.102\s+hung_task: blocked tasks/);
    const wide = await run("get", "kernelpanicevents", "-o", "wide", event!.metadata.name);
    assert.match(wide, /CAUSE/);
    assert.match(wide, /INFO: task syz-executor4:6761 blocked/);
    assert.match(await run("get", "lastgasp"), new RegExp(event!.metadata.name));
    // What the CRD says of each status field reaches kubectl explain (published by the API server's OpenAPI).
    const explained = await run("explain", "kpe.status.conditions.reason");
    assert.match(explained, /Why, in one CamelCase word\./);
    assert.doesNotMatch(await run("explain", "kpe.status.conditions"), /<no description>/);
  });

  it("gives two nodes with the same bug one crash signature, which kubectl selects them by", async () => {
    await sendDatagrams(encodePlain(netflix), { to: target, from: "127.0.0.107" });
    await sendDatagrams(encodeExtended(netflix, { extended: true, firstSequence: 77 }), {
      to: target,
      from: "127.0.0.108",
    });
    const [a] = await eventsFor(kc, "127.0.0.107");
    const [b] = await eventsFor(kc, "127.0.0.108");
    const [hung] = await eventsFor(kc, "127.0.0.102");
    const id = a!.metadata.labels?.[LABELS.signature];
    assert.match(id ?? "", /^[0-9a-f]{16}$/);
    assert.equal(b!.metadata.labels?.[LABELS.signature], id, "plain and extended, two nodes: the same bug");
    assert.equal(a!.spec.signature?.id, id);
    assert.notEqual(hung!.metadata.labels?.[LABELS.signature], id, "another bug");
    const kubectl = required(await ensureBinaries(["kubernetes"]), "KUBECTL");
    const run = async (...args: string[]) =>
      (await promisify(execFile)(kubectl, ["--kubeconfig", testKubeconfigPath(), ...args])).stdout;
    const names = (await run("get", "kpe", "-l", `${LABELS.signature}=${id!}`, "-o", "name")).trim().split("\n");
    for (const event of [a!, b!]) assert.ok(names.includes(`kernelpanicevent.lastgasp.dev/${event.metadata.name}`));
    assert.ok(!names.includes(`kernelpanicevent.lastgasp.dev/${hung!.metadata.name}`));
    const wide = await run("get", "kpe", "-o", "wide", a!.metadata.name);
    assert.match(wide, /SIGNATURE/);
    assert.ok(wide.includes(a!.spec.signature!.title), wide);
  });
});

describe("receiver redundancy", () => {
  it("records a panic heard by two receivers once", async () => {
    const [a, b] = await Promise.all([startTestReceiver(kc, NO_NODES), startTestReceiver(kc, NO_NODES)]);
    try {
      const datagrams = encodeExtended(netflix, { extended: true, firstSequence: 700 });
      await Promise.all([
        sendDatagrams(datagrams, { to: a.target, from: "127.0.0.105" }),
        sendDatagrams(datagrams, { to: b.target, from: "127.0.0.105" }),
      ]);
      await eventsFor(kc, "127.0.0.105");
      const results = async (r: Receiver) =>
        (await r.metrics.eventsCreated.get()).values
          .filter((v) => v.value > 0) // every result's series exists from the start, at 0
          .map((v) => `${String(v.labels.result)}=${v.value}`);
      const outcomes = await waitFor(
        async () => {
          const all = [...(await results(a.receiver)), ...(await results(b.receiver))].sort();
          return all.length === 2 ? all : undefined;
        },
        { what: "both receivers' outcomes", intervalMs: 20 },
      );
      assert.deepEqual(outcomes, ["created=1", "exists=1"]);
      assert.equal((await eventsFor(kc, "127.0.0.105")).length, 1);
    } finally {
      await Promise.all([a.receiver.stop(), b.receiver.stop()]);
    }
  });
});
