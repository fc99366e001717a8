// A cascade against the real control plane (kube-controller-manager, kube-scheduler, kwok): a Deployment's pods
// (three replicas, so the first node also gives its ReplicaSet a co-location warning) are moved by Kubernetes
// itself from node to node as each panics. The second event names the Deployment as the
// suspect and warns it; with cascadeAction hold (the default) the third node waits for approval, its pods left
// in place, until a person approves it. A control plane of its own: the storm guard of every later test counts
// the remediations in the cluster, and this file makes three.
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { GROUP, PLURAL, VERSION, type KernelPanicEvent } from "../../operator/api/kernelpanicevent.ts";
import { ANNOTATIONS } from "../../operator/api/keys.ts";
import type { Reconciler } from "../../operator/reconciler/loop/controller.ts";
import type { Receiver } from "../../operator/receiver/main/service.ts";
import { encodePlain } from "../../operator/netconsole/encode.ts";
import { sendDatagrams } from "../../operator/sender/send.ts";
import { ensureBinaries, required } from "../harness/binaries.ts";
import { uniqueName } from "../harness/cluster.ts";
import type { ControlPlane } from "../harness/controlplane.ts";
import { privateControlPlane } from "../harness/private-plane.ts";
import { kwokNode } from "../harness/fixtures.ts";
import { eventsFor, startTestReceiver } from "../harness/receiver.ts";
import { startTestReconciler } from "../harness/reconciler.ts";
import { waitFor } from "../harness/wait.ts";
import { podsOn, stopKubelet } from "../harness/workloads.ts";

let plane: ControlPlane;
let kc: KubeConfig;
let core: CoreV1Api;
let objects: CustomObjectsApi;

const own = privateControlPlane("the storm guard of later files counts this file's three remediations", {
  controllerManager: true,
  scheduler: true,
  kwok: true,
});
before(async () => {
  plane = await own.ready;
  kc = plane.adminKubeConfig();
  core = kc.makeApiClient(CoreV1Api);
  objects = kc.makeApiClient(CustomObjectsApi);
});
after(async () => {
  await own.stop();
});

async function getEvent(name: string): Promise<KernelPanicEvent> {
  return (await objects.getClusterCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURAL,
    name,
  })) as KernelPanicEvent;
}

async function remediatedReason(name: string, reason: string): Promise<KernelPanicEvent> {
  return waitFor(
    async () => {
      const e = await getEvent(name);
      return e.status?.conditions?.find((c) => c.type === "Remediated")?.reason === reason ? e : undefined;
    },
    { what: `${name} Remediated reason ${reason}`, timeoutMs: 30_000 },
  );
}

describe("cascade: a Deployment moved across three nodes that panic one after another", () => {
  const namespace = uniqueName("cascade");
  const pool = uniqueName("pool");
  const nodes = ["180", "181", "182"].map((last, i) => ({
    name: uniqueName(`cascade-${"abc"[i]!}`),
    ip: `127.0.0.${last}`,
  }));
  let receiver: Receiver;
  let target: string;
  let reconciler: Reconciler;

  before(async () => {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    for (const [i, n] of nodes.entries()) {
      const body = kwokNode(n.name, n.ip);
      body.metadata!.labels!["lastgasp.test/pool"] = pool;
      // Only the first node takes pods at first; the next is opened when the previous one has panicked.
      body.spec = { unschedulable: i > 0 };
      await core.createNode({ body });
    }
    await kc.makeApiClient(AppsV1Api).createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: "web" },
        spec: {
          replicas: 3,
          selector: { matchLabels: { app: "web" } },
          template: {
            metadata: { labels: { app: "web" } },
            spec: {
              nodeSelector: { "lastgasp.test/pool": pool },
              containers: [{ name: "main", image: "registry.k8s.io/pause:3.10" }],
            },
          },
        },
      },
    });
    ({ receiver, target } = await startTestReceiver(kc));
    reconciler = await startReconciler();
  });
  after(async () => {
    await receiver.stop();
    await reconciler.stop();
  });

  function startReconciler(): Promise<Reconciler> {
    return startTestReconciler(kc, [
      ...["--lease-check", "false", "--leader-elect", "false"],
      ...["--storm-max-nodes", "100", "--storm-max-percent", "100"],
    ]);
  }

  async function webRunningOn(nodeName: string): Promise<void> {
    await waitFor(async () => (await podsOn(kc, nodeName)).filter((p) => p.status?.phase === "Running").length === 3, {
      what: `web's 3 pods Running on ${nodeName}`,
      timeoutMs: 60_000,
      intervalMs: 200,
    });
  }

  async function panic(n: { name: string; ip: string }): Promise<string> {
    await stopKubelet(kc, n.name);
    await sendDatagrams(encodePlain(["[ 100.000000] Kernel panic - not syncing: Fatal exception"]), {
      to: target,
      from: n.ip,
    });
    const [event] = await eventsFor(kc, n.ip);
    return event!.metadata.name;
  }

  async function cascadeWarnings(): Promise<string[]> {
    const events = await core.listNamespacedEvent({ namespace, fieldSelector: "reason=KernelPanicCascade" });
    return events.items
      .filter((e) => e.involvedObject.kind === "Deployment" && e.involvedObject.name === "web")
      .map((e) => e.message ?? "");
  }

  it("names the Deployment on the second and third events, warns it, and holds the third node", async () => {
    const [a, b, c] = nodes as [(typeof nodes)[0], (typeof nodes)[0], (typeof nodes)[0]];
    await webRunningOn(a.name);
    const first = await panic(a);
    await remediatedReason(first, "Remediated");
    // Three replicas on one panicked node: their owner is told to spread them.
    const colocated = await waitFor(
      async () =>
        (await core.listNamespacedEvent({ namespace, fieldSelector: "reason=KernelPanicColocated" })).items.find((e) =>
          e.message?.includes(`on node ${a.name}`),
        ),
      { what: "a KernelPanicColocated Warning for the first node", timeoutMs: 10_000 },
    );
    assert.equal(colocated.involvedObject.kind, "ReplicaSet");
    assert.match(colocated.message ?? "", /^3 replicas of this ReplicaSet .*topologySpreadConstraints/);

    // Kubernetes moves the pods: the ReplicaSet replaces them and the scheduler binds them to the open node.
    await core.patchNode({ name: b.name, body: [{ op: "replace", path: "/spec/unschedulable", value: false }] });
    await webRunningOn(b.name);
    const second = await panic(b);
    const named = await remediatedReason(second, "Remediated");
    assert.deepEqual(named.status?.suspects, [
      { kind: "Deployment", namespace, name: "web", nodes: 2, events: [first, second] },
    ]);
    assert.deepEqual(
      named.status?.workloads?.map((w) => [w.kind, w.name, w.pods]),
      [["Deployment", "web", 3]],
    );

    // A restart in between: what ran on the panicked nodes is read back from their events' status.
    await reconciler.stop();
    reconciler = await startReconciler();
    await core.patchNode({ name: c.name, body: [{ op: "replace", path: "/spec/unschedulable", value: false }] });
    await webRunningOn(c.name);
    const third = await panic(c);
    const held = await remediatedReason(third, "CascadeSuspected");
    assert.deepEqual(held.status?.suspects?.[0]?.events, [first, second, third]);
    assert.match(
      held.status?.conditions?.find((x) => x.type === "Remediated")?.message ?? "",
      new RegExp(`Deployment ${namespace}/web was on 3 nodes that panicked .*\\(${a.name}, ${b.name}, ${c.name};`),
    );
    assert.equal((await podsOn(kc, c.name)).length, 3, "the held node's pods are left alone");
    const warnings = await waitFor(
      async () => ((await cascadeWarnings()).length >= 2 ? cascadeWarnings() : undefined),
      {
        what: "two KernelPanicCascade Warnings on the Deployment",
        timeoutMs: 10_000,
      },
    );
    assert.ok(
      warnings.some((m) => m.includes(`${a.name}, ${b.name}, ${c.name}`)),
      warnings.join("\n"),
    );

    const kubectl = required(await ensureBinaries(["kubernetes"]), "KUBECTL");
    const table = (await promisify(execFile)(kubectl, ["--kubeconfig", plane.kubeconfigPath, "get", "kpe", third]))
      .stdout;
    assert.match(table, /STATUS\s+REMEDIATED\s+CRASH LOOP\s+SUSPECTS/);
    assert.match(table.split("\n")[1]!, /\sCascadeSuspected\s+False\s/, table);
    assert.match(table.split("\n")[1]!, /\sweb\s/, table);

    await objects.patchClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      name: third,
      body: [{ op: "add", path: "/metadata/annotations", value: { [ANNOTATIONS.approve]: "true" } }],
    });
    await remediatedReason(third, "Remediated");
    assert.equal((await podsOn(kc, c.name)).length, 0);
  });
});
