// The product as users install it: the image built from our Dockerfile (make image), loaded into a real node's
// containerd, and the chart installed with Helm. Its pods run on a real kubelet with the chart's security context,
// probes, RBAC and projected ServiceAccount tokens, and reach the API server through the `kubernetes` Service. A
// Debian kernel in a QEMU guest, registered as a Node, panics for real towards them and ends Remediated; a panic
// in flight during `helm upgrade` is still recorded; `helm uninstall` leaves nothing running. Runs inside
// hack/in-netns.sh --node (npm run test:e2e): the node's bridge, kube-proxy's rules and the guests stay in a
// network namespace that nothing leaves.
import {
  AdmissionregistrationV1Api,
  ApiextensionsV1Api,
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  RbacAuthorizationV1Api,
  type V1Pod,
} from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { GROUP, PLURAL } from "../../operator/api/kernelpanicevent.ts";
import { ANNOTATIONS } from "../../operator/api/keys.ts";
import {
  diagnosed,
  namespaceWithServiceAccount,
  publishLoadBalancer,
  readyPods,
  secondBuild,
  startE2eTier,
  type E2eTier,
} from "../harness/e2e-tier.ts";
import { bootGuest, type Guest } from "../harness/guests.ts";
import { assertRemediated, eventFrom } from "../harness/kernel-tier.ts";
import { KERNEL_6_12 } from "../harness/kernels.ts";
import { REAL_NODE_NAME } from "../harness/real-node.ts";
import { listKernelPanicEvents } from "../harness/receiver.ts";
import { waitFor } from "../harness/wait.ts";
import { createNodeWithPods } from "../harness/workloads.ts";

const exec = promisify(execFile);
const chartDir = fileURLToPath(new URL("../../charts/lastgasp", import.meta.url));
const IMAGE = process.env.LASTGASP_E2E_IMAGE ?? "localhost/lastgasp:e2e";
const UPGRADE_IMAGE = `${IMAGE}-2`;
const namespace = "lastgasp";
/** The receiver Service's address, published as a load-balancer controller would. */
const LB_IP = "10.203.0.100";
const RECEIVERS = "app.kubernetes.io/component=receiver";
const RECONCILERS = "app.kubernetes.io/component=reconciler";
const AGENTS = "app.kubernetes.io/component=agent";
/** The agent's hostPaths of type DirectoryOrCreate (charts/lastgasp/templates/daemonset-agent.yaml). */
const AGENT_HOST_DIRS = ["/var/lib/systemd/pstore", "/var/crash", "/var/lib/lastgasp"];

let tier: E2eTier;

function imageValues(image: string): string[] {
  const [repository, tag] = [image.slice(0, image.lastIndexOf(":")), image.slice(image.lastIndexOf(":") + 1)];
  return ["image.repository=" + repository, "image.tag=" + tag, "image.pullPolicy=Never"];
}

/** `helm install|upgrade` with the locally built image and `sets`; two nodes in the cluster: no storm guard. */
async function helm(verb: "install" | "upgrade", image: string, ...sets: string[]): Promise<void> {
  const values = [...imageValues(image), "reconciler.config.stormMaxPercent=100", ...sets];
  await tier.helm(verb, "lastgasp", chartDir, "-n", namespace, ...values.flatMap((v) => ["--set", v]));
}

function core(): CoreV1Api {
  return tier.kc.makeApiClient(CoreV1Api);
}

/** A guest Node (kwok stands in for its kubelet) with pods, and the guest kernel that is that node. */
async function guestNode(
  name: string,
  ip: string,
  receiverIp: string,
  hold = false,
): Promise<{ guest: Guest; kubelet: { stop(): Promise<void> } }> {
  const kubelet = await tier.plane.startKubelets(name);
  await namespaceWithServiceAccount(tier.kc, name);
  // A guest is a kernel, not a kubelet: the chart's pods must not be scheduled there (kwok would "run" them).
  const taints = [{ key: "lastgasp.dev/e2e-guest", effect: "NoSchedule" }];
  await createNodeWithPods(tier.kc, { namespace: name, nodeName: name, ip, kubelets: name, taints }, 2);
  const guest = bootGuest(tier.net, {
    kernel: KERNEL_6_12,
    node: { name, ip },
    scenario: "sysrq",
    setup: { kind: "init", netconsole: { extended: true, release: true, node: name } },
    receiverIp,
    receiverPort: 6666,
    hold,
  });
  return { guest, kubelet };
}

/** Each restarted container with how its last run ended: empty when nothing restarted. */
function restarts(pods: readonly V1Pod[]): string[] {
  return pods.flatMap((p) =>
    (p.status?.containerStatuses ?? [])
      .filter((c) => c.restartCount > 0)
      .map((c) => `${p.metadata?.name}/${c.name}: ${c.restartCount} (${JSON.stringify(c.lastState?.terminated)})`),
  );
}

before(async () => {
  await secondBuild(IMAGE, UPGRADE_IMAGE);
  tier = await startE2eTier([IMAGE, UPGRADE_IMAGE]);
  await namespaceWithServiceAccount(tier.kc, namespace);
});
after(async () => {
  await tier?.stop();
  await exec("buildah", ["rmi", UPGRADE_IMAGE]).catch(() => undefined);
});

describe("the chart's pods on a real kubelet", () => {
  it("installs with the defaults: receivers and reconcilers Ready, restricted, on projected ServiceAccount tokens", async () => {
    await helm("install", IMAGE, `receiver.service.loadBalancerIP=${LB_IP}`);
    await publishLoadBalancer(tier.kc, namespace, "lastgasp-receiver", LB_IP);
    const pods = [
      ...(await readyPods(tier, namespace, RECEIVERS, 2)),
      ...(await readyPods(tier, namespace, RECONCILERS, 2)),
    ];
    for (const pod of pods) {
      assert.equal(pod.spec?.nodeName, REAL_NODE_NAME);
      const container = pod.spec.containers[0]!;
      assert.equal(container.image, IMAGE);
      assert.equal(container.securityContext?.readOnlyRootFilesystem, true);
      assert.deepEqual(container.securityContext?.capabilities?.drop, ["ALL"]);
      // The token the kubelet mounted: a projected, expiring ServiceAccount token, and no kubeconfig anywhere.
      const projected = pod.spec.volumes!.flatMap((v) => v.projected?.sources ?? []);
      assert.ok(
        projected.some((s) => s.serviceAccountToken?.path === "token"),
        `${pod.metadata?.name}: a token`,
      );
      assert.ok(!(container.env ?? []).some((e) => e.name === "KUBECONFIG"));
    }
    assert.deepEqual(restarts(pods), []);
    // The image's receive threads read in batches through the addon the Dockerfile builds (not dgram's fallback).
    const started = tier.node
      .logTails(namespace, 50)
      .split("\n")
      .filter((line) => line.includes('"message":"Started receiver"'));
    assert.equal(started.length, 2, "each receiver pod's start line");
    for (const line of started) assert.match(line, /"receivePath":"recvmmsg"/);
    // The chart's own check, as a user runs it: its pod asks the metrics Services for a ready receiver and a leader.
    // A failed test pod stays for inspection (the chart's hook-delete-policy); this tier reports it, then removes it.
    const tested = await tier
      .helm("test", "lastgasp", "-n", namespace, "--timeout", "180s")
      .catch(async (err: unknown) => {
        const logs = tier.node.logTails(namespace, 40);
        await core().deleteNamespacedPod({ name: "lastgasp-test", namespace, gracePeriodSeconds: 0 });
        return assert.fail(`helm test: ${String(err)}\n${logs}`);
      });
    assert.match(tested, /Phase:\s+Succeeded/);
  });

  it("records a real guest kernel's panic sent to a receiver pod's address, and the reconciler pods remediate it", async () => {
    const [receiver] = await readyPods(tier, namespace, RECEIVERS, 2);
    const node = { name: "vm-pod", ip: "10.203.0.10" };
    const { guest, kubelet } = await guestNode(node.name, node.ip, receiver!.status!.podIP!);
    await kubelet.stop();
    await guest.finished();
    const event = await eventFrom(tier.kc, node.ip, guest.diagnosis);
    assert.equal(event.spec.reason, "sysrq triggered crash");
    assert.equal(event.spec.userdata?.node, node.name);
    await assertRemediated(tier.kc, event, node.name);
  });

  it("reports not ready while the pods cannot reach the API server, and ready again once they can", async () => {
    const port = new URL(tier.plane.state.server).port;
    // The pods' path to the API server only (the kubelet, on the node's address, keeps reporting their status).
    const cut = [
      "INPUT",
      "-s",
      "10.244.0.0/16",
      "-p",
      "tcp",
      "--dport",
      port,
      "-j",
      "REJECT",
      "--reject-with",
      "tcp-reset",
    ];
    await exec("iptables", ["-I", ...cut]);
    try {
      await waitFor(
        async () => {
          const pods = (await core().listNamespacedPod({ namespace })).items;
          const ready = pods.filter((p) =>
            p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
          );
          return pods.length === 4 && ready.length === 0;
        },
        { what: "every receiver and reconciler pod NotReady", timeoutMs: 120_000, intervalMs: 500 },
      );
    } finally {
      await exec("iptables", ["-D", ...cut]);
    }
    await readyPods(tier, namespace, RECEIVERS, 2);
    await readyPods(tier, namespace, RECONCILERS, 2);
  });

  it("rolls every pod to a second build with helm upgrade, and a panic sent during the rollout is recorded", async () => {
    const before = new Set(
      (await core().listNamespacedPod({ namespace, labelSelector: RECEIVERS })).items.map((p) => p.metadata!.name!),
    );
    const node = { name: "vm-rollout", ip: "10.203.0.11" };
    const { guest, kubelet } = await guestNode(node.name, node.ip, LB_IP, true);
    await waitFor(() => readFileSync(guest.consoleLog, "utf8").includes("netconsole enabled=1"), {
      what: `the guest's netconsole up (${guest.diagnosis})`,
      timeoutMs: 120_000,
      intervalMs: 200,
    });
    await helm("upgrade", UPGRADE_IMAGE, `receiver.service.loadBalancerIP=${LB_IP}`);
    // The moment the rollout takes a receiver away: one of the old ones is terminating or gone.
    await waitFor(
      async () => {
        const pods = (await core().listNamespacedPod({ namespace, labelSelector: RECEIVERS })).items;
        const old = pods.filter((p) => before.has(p.metadata!.name!));
        return old.length < before.size || old.some((p) => p.metadata?.deletionTimestamp !== undefined);
      },
      { what: "an old receiver leaving", timeoutMs: 120_000, intervalMs: 100 },
    );
    guest.go();
    await kubelet.stop();
    await guest.finished();
    for (const selector of [RECEIVERS, RECONCILERS]) {
      const pods = await readyPods(tier, namespace, selector, 2);
      assert.deepEqual(
        pods.map((p) => p.spec!.containers[0]!.image),
        [UPGRADE_IMAGE, UPGRADE_IMAGE],
      );
    }
    const event = await eventFrom(tier.kc, node.ip, guest.diagnosis);
    assert.equal(event.spec.userdata?.node, node.name);
    await assertRemediated(tier.kc, event, node.name);
  });

  it("uninstalls: no pod, hook Job or container left, only the documented leftovers", async () => {
    await tier.helm("uninstall", "lastgasp", "-n", namespace, "--wait", "--timeout", "180s");
    await assertNothingLeft();
  });

  it("installs combined with a hostNetwork receiver and the agent: the agent on a kernel without netconsole says so on the Node, and which last words it keeps; a guest's panic to the node's address ends Remediated", async (t) => {
    const receivers = `agent.config.receivers={${tier.net.hostIp}:6666}`;
    // The agent's hostPaths are created on the node when missing: this machine is not a node, so what the
    // install creates here, the test removes after the uninstall (on a node they stay: docs/last-words.md).
    const created = AGENT_HOST_DIRS.filter((dir) => !existsSync(dir));
    t.after(() => {
      for (const dir of created) rmSync(dir, { recursive: true, force: true });
    });
    await helm(
      "install",
      IMAGE,
      "combined=true",
      "receiver.hostNetwork=true",
      "receiver.replicas=1",
      "agent.enabled=true",
      receivers,
    );
    const [pod] = await readyPods(tier, namespace, RECEIVERS, 1);
    assert.equal(pod!.spec?.hostNetwork, true);
    assert.equal(pod!.status?.podIP, tier.net.hostIp);

    // This VM's kernel has neither configfs nor the netconsole module: the agent runs, Ready, and says why.
    const [agent] = await readyPods(tier, namespace, AGENTS, 1, REAL_NODE_NAME);
    const reason = await diagnosed(
      tier,
      namespace,
      waitFor(
        async () =>
          (await core().readNode({ name: REAL_NODE_NAME })).metadata?.annotations?.[ANNOTATIONS.netconsoleUnavailable],
        {
          what: `${REAL_NODE_NAME} annotated ${ANNOTATIONS.netconsoleUnavailable}`,
          timeoutMs: 60_000,
          intervalMs: 500,
        },
      ),
    );
    assert.match(reason, /configfs is not mounted on this node/);
    // Its token, bound to its pod on a real kubelet, lets it say on its own Node what the node keeps: on this VM
    // no pstore backend is registered and no kdump kernel is loaded.
    const lastWords = await diagnosed(
      tier,
      namespace,
      waitFor(
        async () => (await core().readNode({ name: REAL_NODE_NAME })).metadata?.annotations?.[ANNOTATIONS.lastWords],
        { what: `${REAL_NODE_NAME} annotated ${ANNOTATIONS.lastWords}`, timeoutMs: 60_000, intervalMs: 500 },
      ),
    );
    assert.equal(lastWords, "pstore=none kdump=none");

    const node = { name: "vm-host", ip: "10.203.0.12" };
    const { guest, kubelet } = await guestNode(node.name, node.ip, tier.net.hostIp);
    await kubelet.stop();
    await guest.finished();
    const event = await eventFrom(tier.kc, node.ip, guest.diagnosis);
    await assertRemediated(tier.kc, event, node.name);
    const agentNow = await core().readNamespacedPod({ namespace, name: agent!.metadata!.name! });
    assert.deepEqual(restarts([agentNow, ...(await readyPods(tier, namespace, RECEIVERS, 1))]), []);

    // The uninstall hook runs `agent --remove` on the node (nothing to remove here) and never wedges.
    await tier.helm("uninstall", "lastgasp", "-n", namespace, "--wait", "--timeout", "180s");
    await assertNothingLeft();
  });
});

/** After an uninstall: no workload, pod or Job in the namespace, and no container of the image on the node. */
async function assertNothingLeft(): Promise<void> {
  await waitFor(async () => (await core().listNamespacedPod({ namespace })).items.length === 0, {
    what: "every pod of the release gone",
    timeoutMs: 120_000,
    intervalMs: 500,
  });
  const apps = tier.kc.makeApiClient(AppsV1Api);
  assert.deepEqual((await apps.listNamespacedDeployment({ namespace })).items, []);
  assert.deepEqual((await apps.listNamespacedDaemonSet({ namespace })).items, []);
  assert.deepEqual((await tier.kc.makeApiClient(BatchV1Api).listNamespacedJob({ namespace })).items, []);
  await waitFor(async () => (await tier.node.runningContainers()).every((c) => !c.image.startsWith(IMAGE)), {
    what: "no container of the image running on the node",
    timeoutMs: 60_000,
    intervalMs: 500,
  });
  // Nothing of the release anywhere else (its ClusterRoles, bindings, admission policies, ServiceAccounts)...
  const release = "app.kubernetes.io/instance=lastgasp";
  const rbac = tier.kc.makeApiClient(RbacAuthorizationV1Api);
  assert.deepEqual((await rbac.listClusterRole({ labelSelector: release })).items, []);
  assert.deepEqual((await rbac.listClusterRoleBinding({ labelSelector: release })).items, []);
  const admission = tier.kc.makeApiClient(AdmissionregistrationV1Api);
  assert.deepEqual((await admission.listValidatingAdmissionPolicy({ labelSelector: release })).items, []);
  assert.deepEqual((await core().listNamespacedServiceAccount({ namespace, labelSelector: release })).items, []);
  // ...but the documented leftovers (README): the CRD, which Helm never deletes, and the panics it recorded.
  const crd = await tier.kc
    .makeApiClient(ApiextensionsV1Api)
    .readCustomResourceDefinition({ name: `${PLURAL}.${GROUP}` });
  assert.equal(crd.metadata?.name, `${PLURAL}.${GROUP}`);
  assert.ok((await listKernelPanicEvents(tier.kc)).length > 0, "the recorded panics stay");
}
