// Spoofed traffic against the real receiver and control plane, over loopback UDP: each way a spoofed datagram from
// a node's own address used to lose its real panic, then a junk-event flood from one source that must not keep
// another node's real panic from being recorded and remediated. The receiver runs with its defaults (node
// addresses only, event budget), the unit-level twins are in test/unit/spoofing.test.ts and budgets.test.ts.
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Reconciler } from "../../operator/reconciler/loop/controller.ts";
import type { Receiver } from "../../operator/receiver/main/service.ts";
import { encodeExtended, encodePlain } from "../../operator/netconsole/encode.ts";
import { sendDatagrams } from "../../operator/sender/send.ts";
import type { ControlPlane } from "../harness/controlplane.ts";
import { privateControlPlane } from "../harness/private-plane.ts";
import { kwokNode } from "../harness/fixtures.ts";
import { eventsFor, listKernelPanicEvents, startTestReceiver } from "../harness/receiver.ts";
import { startTestReconciler } from "../harness/reconciler.ts";
import { waitFor } from "../harness/wait.ts";
import { createNodeWithPods, podsOn } from "../harness/workloads.ts";

const REAL = "Kernel panic - not syncing: Fatal exception in interrupt";
let plane: ControlPlane;
let kc: KubeConfig;
let receiver: Receiver;
let target: string;

const own = privateControlPlane("the receiver's node-address cache and budgets must see only this file's nodes", {
  kwok: true,
});
before(async () => {
  plane = await own.ready;
  kc = plane.adminKubeConfig();
  ({ receiver, target } = await startTestReceiver(kc));
});
after(async () => {
  await receiver.stop();
  await own.stop();
});

async function node(name: string, ip: string): Promise<void> {
  await kc.makeApiClient(CoreV1Api).createNode({ body: kwokNode(name, ip) });
}

function real(options: { userdata?: Record<string, string> } = {}): Buffer[] {
  return encodeExtended([`[ 42.000000] ${REAL}`], { extended: true, firstSequence: 777, ...options });
}

async function send(ip: string, datagrams: Buffer[]): Promise<void> {
  await sendDatagrams(datagrams, { to: target, from: ip });
}

/** The real panic's event (sequence 777) for `ip`, once it exists. */
async function realEvent(ip: string) {
  return waitFor(
    async () => (await listKernelPanicEvents(kc)).find((e) => e.spec.hostIP === ip && e.spec.sequence === 777),
    { what: `the real panic's KernelPanicEvent for ${ip}`, timeoutMs: 15_000 },
  );
}

describe("a real panic survives spoofing of its node's address (real receiver, real API server)", () => {
  it("through a flood that exhausted the source's token bucket", async () => {
    await node("spoof-bucket", "127.0.0.190");
    // Past the bucket's burst (5000) plus what it refills (1000/s) while a loaded machine sends them.
    await send(
      "127.0.0.190",
      Array.from({ length: 20_000 }, (_, i) => Buffer.from(`junk ${i}\n`)),
    );
    await send("127.0.0.190", real());
    await realEvent("127.0.0.190");
    // Dropped in the receive threads, whose counters reach the merged metrics (as /metrics serves them) at
    // their next tick: wait for it.
    const limited = await waitFor(
      async () => {
        const drops = await (await receiver.allMetrics()).getSingleMetric("lastgasp_receiver_drops_total")?.get();
        return drops?.values.find((v) => v.labels.reason === "rate_limited" && v.value > 0);
      },
      { what: "the flood's rate_limited drops in the merged metrics", timeoutMs: 5000 },
    );
    assert.ok(limited.value > 0, "the flood was rate-limited");
  });

  it("after a forged plain panic line with the same text", async () => {
    await node("spoof-dup", "127.0.0.191");
    await send("127.0.0.191", encodePlain([REAL]));
    await eventsFor(kc, "127.0.0.191");
    await send("127.0.0.191", real());
    await realEvent("127.0.0.191");
  });

  it("after a forged record naming another node in its userdata", async () => {
    await node("spoof-userdata", "127.0.0.192");
    await send(
      "127.0.0.192",
      encodeExtended(["hello"], { extended: true, firstSequence: 700, userdata: { node: "x" } }),
    );
    await send("127.0.0.192", real());
    const event = await realEvent("127.0.0.192");
    assert.equal(event.spec.userdata, undefined, "no userdata but its own (none)");
  });

  it("after a spoofed byte without a newline (plain mode)", async () => {
    await node("spoof-byte", "127.0.0.193");
    await send("127.0.0.193", [Buffer.from("x")]);
    await send("127.0.0.193", encodePlain([`[ 42.000000] ${REAL}`]));
    const [event] = await eventsFor(kc, "127.0.0.193");
    assert.equal(event!.spec.firstLine, REAL);
  });

  it("when spoofed fragment starts push its fragments out", async () => {
    await node("spoof-frag", "127.0.0.194");
    const userdata = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, "v".repeat(60)]));
    const [first, ...rest] = real({ userdata });
    await send("127.0.0.194", [first!]);
    await send(
      "127.0.0.194",
      Array.from({ length: 16 }, (_, i) => Buffer.from(`6,${i + 1},1000,-,ncfrag=0/5000;spoofed`)),
    );
    await send("127.0.0.194", rest);
    await realEvent("127.0.0.194");
  });
});

describe("a junk-event flood from one source", () => {
  let reconciler: Reconciler;
  let doomed: Awaited<ReturnType<ControlPlane["startKubelets"]>>;
  before(async () => {
    doomed = await plane.startKubelets("doomed");
    await node("noisy", "127.0.0.195");
    await createNodeWithPods(kc, { namespace: "flood", nodeName: "victim", ip: "127.0.0.196", kubelets: "doomed" }, 3);
    reconciler = await startTestReconciler(kc, ["--leader-elect", "false", "--storm-max-percent", "100"]);
  });
  after(async () => {
    await reconciler.stop();
  });

  it("does not keep another node's real panic from being recorded and remediated", async () => {
    const flood = Array.from({ length: 3000 }, (_, i) =>
      encodeExtended([`Kernel panic - not syncing: junk ${i}`], { extended: true, firstSequence: 10_000 + i }),
    ).flat();
    await send("127.0.0.195", flood); // a node's address: the event budget applies
    await send("127.0.0.197", flood.slice(0, 500)); // no node's address: dropped as unknown_source
    await doomed.stop();
    const sentAt = Date.now();
    await send("127.0.0.196", real());
    const event = await realEvent("127.0.0.196");
    assert.ok(Date.parse(event.metadata.creationTimestamp!) - sentAt < 5000, "recorded within seconds");
    await waitFor(
      async () =>
        (await listKernelPanicEvents(kc))
          .find((e) => e.metadata.name === event.metadata.name)
          ?.status?.conditions?.some((c) => c.type === "Remediated" && c.status === "True"),
      { what: "the victim remediated", timeoutMs: 60_000 },
    );
    assert.equal((await podsOn(kc, "victim")).length, 0);
    const events = await listKernelPanicEvents(kc);
    assert.ok(events.filter((e) => e.spec.hostIP === "127.0.0.195").length <= 3, "the flood stayed within its budget");
    assert.equal(events.filter((e) => e.spec.hostIP === "127.0.0.197").length, 0, "no node's address: nothing");
    const unknown = (await receiver.metrics.drops.get()).values.find((v) => v.labels.reason === "unknown_source");
    assert.ok((unknown?.value ?? 0) > 0);
  });
});
