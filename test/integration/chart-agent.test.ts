// The node agent's part of the Helm chart on a real API server: its DaemonSet and uninstall hook as rendered
// (and accepted by the API server), then, installed, what its ServiceAccount may do: create recovered panics of
// its own node only, checked by the chart's admission policy against a real pod-bound token. Its own control
// plane: the chart installs the CRD.
import {
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type KubernetesObject,
  type V1DaemonSet,
} from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { GROUP, PLURAL, VERSION } from "../../operator/api/kernelpanicevent.ts";
import { ANNOTATIONS } from "../../operator/api/keys.ts";
import { toKernelPanicEvent } from "../../operator/receiver/main/event.ts";
import { CHART_NAMESPACE, chartDir, chartPlane, plainYaml } from "../harness/chart-plane.ts";
import { serviceAccountKubeConfig } from "../harness/tokens.ts";
import { waitFor } from "../harness/wait.ts";

const namespace = CHART_NAMESPACE;
const chart = chartPlane();
const runHelm = chart.runHelm;
let admin: KubeConfig;

/** The chart rendered with the agent enabled and `sets` (--set key=value each). */
async function renderAgent(...sets: string[]): Promise<KubernetesObject[]> {
  const args = ["agent.enabled=true", ...sets].flatMap((set) => ["--set", set]);
  // As on this API server, which has ValidatingAdmissionPolicy (the agent's lastWords needs it).
  const apis = ["--api-versions", "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy"];
  return plainYaml((await runHelm("template", "lastgasp", chartDir, "-n", namespace, ...apis, ...args)).stdout);
}

before(async () => {
  await chart.ready;
  admin = chart.admin;
});
after(async () => {
  await chart.stop();
});

describe("the chart's node agent", () => {
  it("renders the agent DaemonSet and its uninstall hook, which the API server accepts; refuses an agent with nowhere to send", async () => {
    await assert.rejects(renderAgent(), /agent.enabled needs agent.config.receivers/);
    const objects = await renderAgent("agent.config.receivers={10.0.0.5:6666,[fd00::5]:6666}");
    const agent = objects.find((o) => o.kind === "DaemonSet" && o.metadata?.name === "lastgasp-agent") as V1DaemonSet;
    const pod = agent.spec!.template.spec!;
    assert.equal(pod.hostNetwork, true);
    // lastWords (on by default): a token (bound to the pod) of the agent's own ServiceAccount, and where nodes
    // keep their last words, read-only, with the agent's own state directory.
    assert.equal(pod.automountServiceAccountToken, true);
    assert.equal(pod.serviceAccountName, "lastgasp-agent");
    assert.deepEqual(pod.tolerations, [{ operator: "Exists" }]);
    assert.deepEqual(
      pod.volumes!.map((v) => v.hostPath?.path),
      [
        "/sys/kernel",
        "/dev/kmsg",
        "/lib/modules",
        "/sys/fs",
        "/var/lib/systemd/pstore",
        "/var/crash",
        "/var/lib/lastgasp",
      ],
    );
    assert.deepEqual(
      pod.containers[0]!.volumeMounts!.filter((m) => m.readOnly === true).map((m) => m.mountPath),
      ["/lib/modules", "/host/sys/fs", "/host/var/lib/systemd/pstore", "/host/var/crash"],
    );
    const withoutLastWords = await renderAgent(
      "agent.config.receivers={10.0.0.5:6666}",
      "agent.config.lastWords=false",
    );
    const tokenless = (
      withoutLastWords.find((o) => o.metadata?.name === "lastgasp-agent" && o.kind === "DaemonSet") as V1DaemonSet
    ).spec!.template.spec!;
    assert.equal(tokenless.automountServiceAccountToken, false);
    assert.equal(tokenless.containers[0]!.env!.find((e) => e.name === "LASTGASP_LAST_WORDS")?.value, "false");
    assert.equal(tokenless.serviceAccountName, undefined);
    assert.deepEqual(
      tokenless.volumes!.map((v) => v.hostPath?.path),
      ["/sys/kernel", "/dev/kmsg", "/lib/modules"],
    );
    assert.deepEqual(
      withoutLastWords.filter((o) => /-agent$/.test(o.metadata?.name ?? "")).map((o) => o.kind),
      ["DaemonSet"],
    );
    const env = Object.fromEntries(
      pod.containers[0]!.env!.map((e) => [e.name, e.value ?? e.valueFrom?.fieldRef?.fieldPath]),
    );
    assert.equal(env.LASTGASP_RECEIVERS, "10.0.0.5:6666,[fd00::5]:6666");
    assert.equal(env.LASTGASP_LAST_WORDS, "true");
    assert.equal(env.NODE_NAME, "spec.nodeName");
    assert.equal(env.HOST_IP, "status.hostIP");
    // Without the self-test: no /dev/kmsg, not privileged, no capability but SYS_MODULE.
    const unprivileged = await renderAgent("agent.config.receivers={10.0.0.5:6666}", "agent.config.selfTest=false");
    const plain = (
      unprivileged.find((o) => o.kind === "DaemonSet" && o.metadata?.name === "lastgasp-agent") as V1DaemonSet
    ).spec!.template.spec!;
    assert.deepEqual(plain.containers[0]!.securityContext, {
      runAsUser: 0,
      runAsNonRoot: false,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"], add: ["SYS_MODULE"] },
    });
    // Every agent object, the hook's included, is valid for this API server (server-side dry run).
    const api = KubernetesObjectApi.makeApiClient(admin);
    await admin.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
    const agentObjects = objects.filter((o) => /agent/.test(o.metadata?.name ?? ""));
    assert.deepEqual(agentObjects.map((o) => o.kind).sort(), [
      "ClusterRole",
      "ClusterRoleBinding",
      "DaemonSet",
      "DaemonSet",
      "Job",
      "Role",
      "RoleBinding",
      "ServiceAccount",
      "ServiceAccount",
      "ValidatingAdmissionPolicy",
      "ValidatingAdmissionPolicy",
      "ValidatingAdmissionPolicyBinding",
      "ValidatingAdmissionPolicyBinding",
    ]);
    for (const object of agentObjects) await api.create(object, undefined, "All");
  });

  it("installs with the agent: its ServiceAccount, RBAC and admission policy (no controller runs its DaemonSet here)", async () => {
    await runHelm(
      "install",
      "lastgasp",
      chartDir,
      "-n",
      namespace,
      "--set",
      "agent.enabled=true",
      "--set",
      "agent.config.receivers[0]=10.0.0.9:6666",
    );
    const accounts = (await admin.makeApiClient(CoreV1Api).listNamespacedServiceAccount({ namespace })).items;
    assert.ok(accounts.some((a) => a.metadata?.name === "lastgasp-agent"));
  });

  it("lets a node's agent record recovered panics of its own node only (its token bound to its pod; ValidatingAdmissionPolicy)", async () => {
    const core = admin.makeApiClient(CoreV1Api);
    const nodeName = "agent-node-a";
    await core.createNode({ body: { metadata: { name: nodeName } } });
    const pod = await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: "agent-on-a" },
        spec: {
          nodeName,
          serviceAccountName: "lastgasp-agent",
          containers: [{ name: "agent", image: "lastgasp:test" }],
        },
      },
    });
    const bound = await serviceAccountKubeConfig(admin, namespace, "lastgasp-agent", 3600, {
      name: "agent-on-a",
      uid: pod.metadata?.uid ?? "",
    });
    const objects = bound.makeApiClient(CustomObjectsApi);
    const event = (name: string, spec: { nodeName?: string; source?: string }) => {
      const base = toKernelPanicEvent(
        {
          hostIP: "10.0.0.7",
          firstLine: "Kernel panic - not syncing: sysrq triggered crash",
          reason: "sysrq triggered crash",
          contextLines: [],
          frames: [],
          detectedAtMs: Date.now(),
          userdata: {},
        },
        `agent/${nodeName}`,
      );
      return {
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        body: { ...base, metadata: { name }, spec: { ...base.spec, ...spec } },
      };
    };
    const refused = (message: RegExp) => (err: { code?: number; body?: unknown }) =>
      (err.code === 403 || err.code === 422) && message.test(String(err.body));
    // Another node's name: refused, once the API server has loaded the policy.
    await waitFor(
      async () =>
        objects
          .createClusterCustomObject(event("agent-other-node", { nodeName: "agent-node-b", source: "pstore" }))
          .then(
            () => false,
            (err: unknown) => refused(/only record panics of its own node/)(err as { code?: number; body?: unknown }),
          ),
      { what: "the agent's event naming another node to be refused by the policy" },
    );
    await objects.createClusterCustomObject(event("agent-own-node", { nodeName, source: "pstore" }));
    await objects.createClusterCustomObject(event("agent-own-node-kdump", { nodeName, source: "kdump" }));
    await assert.rejects(
      objects.createClusterCustomObject(event("agent-no-node", { source: "pstore" })),
      refused(/only record panics of its own node/),
    );
    await assert.rejects(
      objects.createClusterCustomObject(event("agent-live", { nodeName, source: "netconsole" })),
      refused(/never a live one/),
    );
    await assert.rejects(
      objects.createClusterCustomObject(event("agent-live-unsaid", { nodeName })),
      refused(/never a live one/),
    );
    // The same ServiceAccount with a token bound to nothing: no node to speak for.
    const unbound = (await serviceAccountKubeConfig(admin, namespace, "lastgasp-agent")).makeApiClient(
      CustomObjectsApi,
    );
    await assert.rejects(
      unbound.createClusterCustomObject(event("agent-unbound", { nodeName, source: "pstore" })),
      refused(/token names no node/),
    );
    // Create only: RBAC grants nothing else.
    await assert.rejects(
      objects.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name: "agent-own-node" }),
      (err: { code?: number }) => err.code === 403,
    );
    await assert.rejects(
      objects.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL }),
      (err: { code?: number }) => err.code === 403,
    );
  });

  it("lets a node's agent say on its own Node which last words it keeps, and change nothing else of any Node", async () => {
    const core = admin.makeApiClient(CoreV1Api);
    const own = "agent-node-a"; // created, with the agent's pod, by the test before
    await core.createNode({ body: { metadata: { name: "agent-node-c" } } });
    const pod = await core.readNamespacedPod({ namespace, name: "agent-on-a" });
    const bound = (
      await serviceAccountKubeConfig(admin, namespace, "lastgasp-agent", 3600, {
        name: "agent-on-a",
        uid: pod.metadata?.uid ?? "",
      })
    ).makeApiClient(CoreV1Api);
    const patch = (name: string, metadata: object) =>
      bound.patchNode({ name, body: { metadata } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
    const refused = (message: RegExp) => (err: { code?: number; body?: unknown }) =>
      (err.code === 403 || err.code === 422) && message.test(String(err.body));
    await patch(own, { annotations: { [ANNOTATIONS.lastWords]: "pstore=ramoops/131072 kdump=none" } });
    assert.equal(
      (await core.readNode({ name: own })).metadata?.annotations?.[ANNOTATIONS.lastWords],
      "pstore=ramoops/131072 kdump=none",
    );
    await assert.rejects(
      patch("agent-node-c", { annotations: { [ANNOTATIONS.lastWords]: "pstore=none kdump=none" } }),
      refused(/only annotate its own Node/),
    );
    await assert.rejects(
      patch(own, { annotations: { [ANNOTATIONS.netconsoleLastSeen]: new Date().toISOString() } }),
      refused(/no Node annotation but lastgasp.dev\/last-words/),
    );
    await assert.rejects(patch(own, { labels: { "lastgasp.dev/exclude": "true" } }), refused(/spec, labels/));
    await assert.rejects(
      bound.patchNode(
        { name: own, body: { spec: { unschedulable: true } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      ),
      refused(/spec, labels/),
    );
  });
});
