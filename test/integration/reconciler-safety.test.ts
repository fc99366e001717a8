// The reconciler's safety rails against a real control plane: dry run, the storm guard, the lease check against
// forged packets, leader election, and resuming after being killed mid-way. A control plane of its own: the
// storm guard counts every remediation in the cluster, so this file starts from an empty window.
import { systemClock } from "../../operator/clock.ts";
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { setTimeout } from "node:timers/promises";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { GROUP, PLURAL, VERSION, type KernelPanicEvent } from "../../operator/api/kernelpanicevent.ts";
import { ANNOTATIONS } from "../../operator/api/keys.ts";
import { ApiCaller } from "../../operator/kube/caller.ts";
import { ClusterLease } from "../../operator/kube/leases.ts";
import { createLogger } from "../../operator/log.ts";
import { LeaderElector } from "../../operator/reconciler/loop/leader.ts";
import type { Reconciler } from "../../operator/reconciler/loop/controller.ts";
import type { Receiver } from "../../operator/receiver/main/service.ts";
import { encodePlain } from "../../operator/netconsole/encode.ts";
import { sendDatagrams } from "../../operator/sender/send.ts";
import { ensureBinaries, required } from "../harness/binaries.ts";
import type { ControlPlane } from "../harness/controlplane.ts";
import { privateControlPlane } from "../harness/private-plane.ts";
import { ManagedProcess } from "../harness/processes.ts";
import { eventsFor, startTestReceiver } from "../harness/receiver.ts";
import { startTestReconciler } from "../harness/reconciler.ts";
import { waitFor } from "../harness/wait.ts";
import { createNodeWithPods, nodeExists, podsOn, stopKubelet } from "../harness/workloads.ts";

const bin = fileURLToPath(new URL("../../bin/lastgasp.ts", import.meta.url));
let plane: ControlPlane;
let kc: KubeConfig;
let receiver: Receiver;
let target: string;

const own = privateControlPlane(
  "the storm guard counts every remediation in the cluster: this file starts from an empty window",
  { kwok: true },
);
before(async () => {
  plane = await own.ready;
  kc = plane.adminKubeConfig();
  ({ receiver, target } = await startTestReceiver(kc));
});
after(async () => {
  await receiver.stop();
  await own.stop();
});

async function panic(ip: string, reason = "Fatal exception"): Promise<string> {
  await sendDatagrams(encodePlain([`[ 100.000000] Kernel panic - not syncing: ${reason}`]), { to: target, from: ip });
  const [event] = await eventsFor(kc, ip);
  return event!.metadata.name;
}

async function getEvent(name: string): Promise<KernelPanicEvent> {
  return (await kc
    .makeApiClient(CustomObjectsApi)
    .getClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name })) as KernelPanicEvent;
}

async function remediatedReason(name: string, reasons: string[], timeoutMs = 30_000): Promise<KernelPanicEvent> {
  return waitFor(
    async () => {
      const e = await getEvent(name);
      const c = e.status?.conditions?.find((x) => x.type === "Remediated");
      return c !== undefined && reasons.includes(c.reason) ? e : undefined;
    },
    { what: `${name} Remediated reason ${reasons.join("|")}`, timeoutMs },
  );
}

/** No lease wait, no election, and a storm guard wide enough for this file's dozen nodes. */
const fast = [
  "--lease-check",
  "false",
  "--leader-elect",
  "false",
  "--storm-max-percent",
  "100",
  "--storm-max-nodes",
  "100",
];

describe("storm guard", () => {
  let reconciler: Reconciler;
  before(async () => {
    await createNodeWithPods(kc, { namespace: "storm", nodeName: "storm-a", ip: "127.0.0.141" }, 2);
    await createNodeWithPods(kc, { namespace: "storm", nodeName: "storm-b", ip: "127.0.0.142" }, 2);
    reconciler = await startTestReconciler(kc, [...fast, "--storm-max-nodes", "1"]);
  });
  after(async () => {
    await reconciler.stop();
  });

  it("holds the N+1th node with StormGuard until a person approves it", async () => {
    await stopKubelet(kc, "storm-a");
    await stopKubelet(kc, "storm-b");
    const first = await panic("127.0.0.141");
    await remediatedReason(first, ["Remediated"]);
    const second = await panic("127.0.0.142");
    const held = await remediatedReason(second, ["StormGuard"]);
    assert.match(held.status?.conditions?.find((c) => c.type === "Remediated")?.message ?? "", /limit 1/);
    assert.equal((await podsOn(kc, "storm-b")).length, 2, "nothing touched while held");
    assert.equal(await nodeExists(kc, "storm-b"), true);

    await kc.makeApiClient(CustomObjectsApi).patchClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      name: second,
      body: [{ op: "add", path: "/metadata/annotations", value: { [ANNOTATIONS.approve]: "true" } }],
    });
    await remediatedReason(second, ["Remediated"]);
    assert.equal(await nodeExists(kc, "storm-b"), false);
  });
});

describe("dry run", () => {
  let reconciler: Reconciler;
  before(async () => {
    await createNodeWithPods(kc, { namespace: "dry", nodeName: "dry-a", ip: "127.0.0.143" }, 5);
    reconciler = await startTestReconciler(kc, [...fast, "--dry-run", "true"]);
  });
  after(async () => {
    await reconciler.stop();
  });

  it("reports what it would do and changes nothing but the event's status", async () => {
    await stopKubelet(kc, "dry-a");
    const before = await podsOn(kc, "dry-a");
    const event = await remediatedReason(await panic("127.0.0.143"), ["DryRun"]);
    assert.equal(event.status?.podsFailed, 5);
    assert.match(
      event.status?.conditions?.find((c) => c.type === "Remediated")?.message ?? "",
      /^Dry run, nothing changed: 5 pods would be marked Failed/,
    );
    const after = await podsOn(kc, "dry-a");
    assert.deepEqual(
      after.map((p) => [p.metadata?.uid, p.metadata?.resourceVersion]),
      before.map((p) => [p.metadata?.uid, p.metadata?.resourceVersion]),
      "no pod changed",
    );
    const node = await kc.makeApiClient(CoreV1Api).readNode({ name: "dry-a" });
    assert.equal(node.metadata?.annotations?.[ANNOTATIONS.kernelPanicEvent], undefined, "the node is not annotated");
  });
});

describe("lease check", () => {
  let reconciler: Reconciler;
  let doomedKubelets: ManagedProcess;
  before(async () => {
    doomedKubelets = await plane.startKubelets("doomed");
    await createNodeWithPods(kc, { namespace: "lease", nodeName: "alive", ip: "127.0.0.144" }, 3);
    await createNodeWithPods(kc, { namespace: "lease", nodeName: "dead", ip: "127.0.0.145", kubelets: "doomed" }, 3);
    reconciler = await startTestReconciler(kc, ["--leader-elect", "false", "--storm-max-percent", "100"]);
  });
  after(async () => {
    await reconciler.stop();
  });

  it("refuses a forged panic about a node whose Lease is still renewed, and acts on a dead one", async () => {
    await doomedKubelets.stop();
    const [forged, real] = await Promise.all([panic("127.0.0.144", "forged"), panic("127.0.0.145")]);
    await remediatedReason(forged, ["WaitingForLease"], 5000);
    const refused = await remediatedReason(forged, ["NodeAlive"], 40_000);
    assert.match(
      refused.status?.conditions?.find((c) => c.type === "Remediated")?.message ?? "",
      /Lease changed while it was watched .* the node is alive/,
    );
    assert.equal((await podsOn(kc, "alive")).filter((p) => p.status?.phase === "Running").length, 3, "nothing touched");
    assert.equal(await nodeExists(kc, "alive"), true);
    const warnings = (
      await kc
        .makeApiClient(CoreV1Api)
        .listNamespacedEvent({ namespace: "default", fieldSelector: "involvedObject.name=alive,reason=NodeAlive" })
    ).items;
    assert.equal(warnings.length, 1);

    await remediatedReason(real, ["Remediated"], 40_000);
    assert.equal(await nodeExists(kc, "dead"), false);
  });
});

describe("leader election", () => {
  let replicas: Reconciler[];
  before(async () => {
    await createNodeWithPods(kc, { namespace: "ha", nodeName: "ha-a", ip: "127.0.0.146" }, 3);
    await createNodeWithPods(kc, { namespace: "ha", nodeName: "ha-b", ip: "127.0.0.147" }, 3);
    const flags = ["--lease-check", "false", "--storm-max-percent", "100", "--leader-election-id", "ha-test"];
    replicas = await Promise.all([
      startTestReconciler(kc, [...flags, "--identity", "one"]),
      startTestReconciler(kc, [...flags, "--identity", "two"]),
    ]);
  });
  after(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
  });

  it("lets exactly one of two replicas act", async () => {
    await waitFor(() => replicas.some((r) => r.isLeader), { what: "a leader" });
    await stopKubelet(kc, "ha-a");
    await stopKubelet(kc, "ha-b");
    const names = await Promise.all([panic("127.0.0.146"), panic("127.0.0.147")]);
    for (const name of names) await remediatedReason(name, ["Remediated"]);
    // The status is written before the counter moves: wait for the counts, not just the status.
    const counts = async () =>
      Promise.all(
        replicas.map(async (r) => (await r.metrics.remediations.get()).values.reduce((sum, v) => sum + v.value, 0)),
      );
    await waitFor(async () => (await counts()).reduce((a, b) => a + b, 0) >= 2, { what: "both remediations counted" });
    const acted = await counts();
    assert.deepEqual([...acted].sort(), [0, 2], `remediations per replica: ${acted.join(", ")}`);
    assert.equal(replicas.filter((r) => r.isLeader).length, 1);
  });
});

describe("leader election with clocks 20 s apart", () => {
  it("a standby whose wall clock runs 20 s ahead never leads beside a live leader, and takes over when it stops", async () => {
    const timing = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 300 };
    const elector = (identity: string, skewMs: number) =>
      new LeaderElector(
        new ClusterLease(
          kc,
          new ApiCaller({ qps: 50, burst: 50, requestTimeoutMs: 5000, throttleRetries: 3 }, systemClock),
          { namespace: "default", name: "skew-test" },
        ),
        { lease: "default/skew-test", identity, ...timing },
        createLogger("silent", "test"),
        // This machine's clocks, with its wall clock `skewMs` off.
        {
          ...systemClock,
          now: () => new Date(Date.now() + skewMs),
          nowMs: () => Date.now() + skewMs,
        },
      );
    const leader = elector("on-time", 0);
    const ahead = elector("ahead", 20_000);
    const idle = () => Promise.resolve(() => Promise.resolve());
    const runs = [leader.run(idle, () => undefined)];
    await waitFor(() => leader.isLeader, { what: "the on-time replica to lead" });
    runs.push(ahead.run(idle, () => undefined));
    try {
      // Three lease durations: the skewed standby reads the Lease every retry period all along.
      const until = performance.now() + 3 * timing.leaseDurationMs;
      while (performance.now() < until) {
        assert.ok(!(leader.isLeader && ahead.isLeader), "both led at once");
        assert.ok(leader.isLeader, "the live leader lost its lease");
        await setTimeout(50);
      }
      await leader.stop();
      await waitFor(() => ahead.isLeader, { what: "the standby to take over", timeoutMs: 4 * timing.leaseDurationMs });
    } finally {
      await leader.stop();
      await ahead.stop();
      await Promise.all(runs);
    }
  });
});

describe("killed mid-remediation", () => {
  it("finishes the job after a restart", async () => {
    await createNodeWithPods(kc, { namespace: "crash", nodeName: "crash-a", ip: "127.0.0.148" }, 40);
    await stopKubelet(kc, "crash-a");
    // A slow reconciler (2 requests/s) in its own process, killed with SIGKILL once it is half way.
    const slow = new ManagedProcess({
      name: "reconciler",
      command: process.execPath,
      args: [
        bin,
        "reconciler",
        "--kubeconfig",
        plane.kubeconfigPath,
        ...fast,
        "--qps",
        "4",
        "--burst",
        "1",
        "--http-address",
        "127.0.0.1:0",
        "--log-level",
        "error",
      ],
      logFile: `${plane.state.dir}/slow-reconciler.log`,
    });
    const original = new Set((await podsOn(kc, "crash-a")).map((p) => p.metadata?.uid));
    try {
      const name = await panic("127.0.0.148");
      await waitFor(async () => (await podsOn(kc, "crash-a")).length <= 30, {
        what: "some pods deleted",
        timeoutMs: 60_000,
        intervalMs: 100,
      });
      slow.killNow();
      await slow.exited;
      await resumes(name);
      // Every pod it took is on record, the ones deleted before the kill too, each once.
      const pods = (await getEvent(name)).status?.pods ?? [];
      assert.equal(pods.length, 40);
      assert.deepEqual(new Set(pods.map((p) => p.uid)), original);
    } finally {
      slow.killNow();
    }
  });
});

/** After the kill: half done, then a fresh reconciler finishes the job. */
async function resumes(name: string): Promise<void> {
  const left = (await podsOn(kc, "crash-a")).length;
  assert.ok(left > 0, "killed before it finished");
  assert.equal((await getEvent(name)).status?.conditions?.find((c) => c.type === "Remediated")?.reason, "InProgress");

  const restarted = await startTestReconciler(kc, fast);
  try {
    await remediatedReason(name, ["Remediated"]);
    assert.equal((await podsOn(kc, "crash-a")).length, 0);
    assert.equal(await nodeExists(kc, "crash-a"), false);
  } finally {
    await restarted.stop();
  }
}

describe("crash loop", () => {
  let reconciler: Reconciler;
  before(async () => {
    reconciler = await startTestReconciler(kc, fast);
  });
  after(async () => {
    await reconciler.stop();
  });

  it("quarantines a node that panics three times in a day, and kubectl get kpe shows it", async () => {
    const ip = "127.0.0.150";
    const nodeName = "loop-a";
    const names: string[] = [];
    for (const boot of [1, 2, 3]) {
      // Back after each reboot: the kubelet registers the Node again under its name, and it panics again.
      await waitFor(async () => !(await nodeExists(kc, nodeName)), { what: `${nodeName} gone`, timeoutMs: 15_000 });
      await createNodeWithPods(kc, { namespace: "loop", nodeName, ip }, 1);
      await stopKubelet(kc, nodeName);
      const line = `[ ${100 + boot}.000000] Kernel panic - not syncing: Fatal exception`;
      await sendDatagrams(encodePlain([line]), { to: target, from: ip });
      const events = await eventsFor(kc, ip, boot);
      const name = events.map((e) => e.metadata.name).find((n) => !names.includes(n))!;
      names.push(name);
      await remediatedReason(name, ["Remediated"]);
    }
    const [first, , third] = await Promise.all(names.map(getEvent));
    assert.equal(
      first!.status?.conditions?.find((c) => c.type === "CrashLoop"),
      undefined,
    );
    const loop = third!.status?.conditions?.find((c) => c.type === "CrashLoop");
    assert.equal(loop?.status, "True");
    assert.match(loop?.message ?? "", /panicked 3 times within 24 h/);
    // Quarantined: the third time the Node is kept, cordoned and tainted, not deleted.
    const node = await kc.makeApiClient(CoreV1Api).readNode({ name: nodeName });
    assert.equal(node.spec?.unschedulable, true);
    assert.ok(node.spec?.taints?.some((t) => t.key === "node.kubernetes.io/out-of-service"));
    const kubectl = required(await ensureBinaries(["kubernetes"]), "KUBECTL");
    const table = (await promisify(execFile)(kubectl, ["--kubeconfig", plane.kubeconfigPath, "get", "kpe", names[2]!]))
      .stdout;
    assert.match(table, /CRASH LOOP/);
    assert.match(table.split("\n")[1]!, /\sTrue\s+\S+\s*$/, table);
  });
});

describe("node action taint, and the event TTL", () => {
  let reconciler: Reconciler;
  before(async () => {
    await createNodeWithPods(kc, { namespace: "taint", nodeName: "taint-a", ip: "127.0.0.149" }, 2);
    // The last test of this file: its 2 s TTL deletes every finished event of the file's control plane.
    reconciler = await startTestReconciler(kc, [...fast, "--node-action", "taint", "--event-ttl-seconds", "2"]);
  });
  after(async () => {
    await reconciler.stop();
  });

  it("keeps the node, tainted out-of-service, then deletes the finished event after its TTL", async () => {
    await stopKubelet(kc, "taint-a");
    const name = await panic("127.0.0.149");
    const event = await remediatedReason(name, ["Remediated"]);
    const nodeRemoved = event.status?.conditions?.find((c) => c.type === "NodeRemoved");
    assert.equal(nodeRemoved?.status, "False");
    assert.equal(nodeRemoved?.reason, "NodeTainted");
    const node = await kc.makeApiClient(CoreV1Api).readNode({ name: "taint-a" });
    assert.ok(
      node.spec?.taints?.some(
        (t) => t.key === "node.kubernetes.io/out-of-service" && t.value === "nodeshutdown" && t.effect === "NoExecute",
      ),
    );
    assert.equal(node.metadata?.annotations?.[ANNOTATIONS.kernelPanicEvent], name);
    assert.equal((await podsOn(kc, "taint-a")).length, 0);
    // The hand-off to repair systems: a Node condition they can match, naming the event.
    const handOff = node.status?.conditions?.find((c) => c.type === "KernelPanic");
    assert.equal(handOff?.status, "True");
    assert.equal(handOff?.reason, "KernelPanic");
    assert.match(handOff?.message ?? "", new RegExp(`KernelPanicEvent ${name}\\)$`));

    await waitFor(
      async () =>
        getEvent(name).then(
          () => false,
          (err: unknown) => (err as { code?: number }).code === 404,
        ),
      { what: "the event to expire", timeoutMs: 15_000 },
    );
  });
});
