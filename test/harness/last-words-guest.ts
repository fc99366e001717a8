// The node agent's last words on a real kernel: a guest with ramoops whose setup runs the real `lastgasp agent
// --once` at every boot (netconsole configured and self-tested; what pstore kept read and reported), with the
// chart's own agent ServiceAccount, RBAC and admission policy on the tier's API server, and a token bound to an
// agent pod on the guest's Node, as the kubelet gives the DaemonSet's pod after the node registers again.
import { CoreV1Api, KubernetesObjectApi, loadAllYaml, type KubeConfig } from "@kubernetes/client-node";
import { execFile } from "node:child_process";
import { renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ensureBinaries, required } from "./binaries.ts";
import { bootGuest, type Guest, type GuestSpec, type TierNetwork } from "./guests.ts";
import { serviceAccountKubeconfigYaml } from "./tokens.ts";
import { GUEST_CONTROL, RAMOOPS_MODPROBE } from "./vm.ts";

export const AGENT_NAMESPACE = "lastgasp-system";
const AGENT_ACCOUNT = "lastgasp-agent";
const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const exec = promisify(execFile);

/** The chart's objects for the agent's token: its ServiceAccount, ClusterRole(+Binding) and admission policy. */
export async function installAgentAccess(kc: KubeConfig): Promise<void> {
  const helm = required(await ensureBinaries(["helm"]), "HELM");
  const files = ["serviceaccount-agent.yaml", "clusterrole-agent.yaml", "validatingadmissionpolicy-agent.yaml"];
  const { stdout } = await exec(
    helm,
    [
      "template",
      "lastgasp",
      join(repoRoot, "charts/lastgasp"),
      "-n",
      AGENT_NAMESPACE,
      "--api-versions",
      "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy",
      "--set",
      "agent.enabled=true",
      "--set",
      "agent.config.receivers[0]=10.0.0.9:6666",
      ...files.flatMap((f) => ["-s", `templates/${f}`]),
    ],
    { maxBuffer: 16 << 20 },
  );
  await kc
    .makeApiClient(CoreV1Api)
    .createNamespace({ body: { metadata: { name: AGENT_NAMESPACE } } })
    .catch((err: unknown) => {
      if ((err as { code?: number }).code !== 409) throw err;
    });
  const api = KubernetesObjectApi.makeApiClient(kc);
  for (const object of loadAllYaml(stdout) as Parameters<typeof api.create>[0][]) await api.create(object);
}

/**
 * The agent's credentials on `nodeName`: a pod of the agent's ServiceAccount on that Node and a token bound to it,
 * written as the kubeconfig the guest's agent waits for in the boot after its panic.
 */
export async function giveAgentToken(kc: KubeConfig, guest: Guest, nodeName: string): Promise<void> {
  const pod = await kc.makeApiClient(CoreV1Api).createNamespacedPod({
    namespace: AGENT_NAMESPACE,
    body: {
      metadata: { generateName: `agent-${nodeName}-` },
      spec: {
        nodeName,
        serviceAccountName: AGENT_ACCOUNT,
        containers: [{ name: "agent", image: "registry.k8s.io/pause:3.10" }],
      },
    },
  });
  const yaml = await serviceAccountKubeconfigYaml(kc, AGENT_NAMESPACE, AGENT_ACCOUNT, 3600, {
    name: pod.metadata?.name ?? "",
    uid: pod.metadata?.uid ?? "",
  });
  // Whole or not at all: the guest waits for the file's name.
  writeFileSync(join(guest.control, "kubeconfig.next"), yaml);
  renameSync(join(guest.control, "kubeconfig.next"), join(guest.control, "kubeconfig"));
}

/**
 * Boots a guest whose setup, at every boot, mounts pstore and runs the agent towards `receivers`. In the boot
 * after a panic (pstore holds a dmesg record) it first waits for the kubeconfig giveAgentToken writes. The agent's
 * output accumulates in the control share's agent.log.
 */
export function bootLastWordsGuest(
  net: TierNetwork,
  spec: Pick<GuestSpec, "kernel" | "node" | "receiverPort" | "scenario">,
  receivers: readonly string[],
): Guest {
  const agent = [
    "agent --once",
    `--receivers ${receivers.join(",")}`,
    `--node-name ${spec.node.name}`,
    `--source-ip ${spec.node.ip}`,
    `--pstore-dir /sys/fs/pstore`,
    `--pstore-archive-dir ${GUEST_CONTROL}/no-archive`,
    `--kdump-dir ${GUEST_CONTROL}/no-crash`,
    `--reported-file ${GUEST_CONTROL}/reported-panics.json`,
  ];
  const script = [
    "set -e",
    "export PATH=/usr/sbin:/usr/bin",
    `cd '${repoRoot}'`,
    RAMOOPS_MODPROBE,
    "mount -t pstore pstore /sys/fs/pstore",
    "credentials=",
    "if ls /sys/fs/pstore | grep -q '^dmesg-'; then",
    "  i=0",
    `  while [ ! -e ${GUEST_CONTROL}/kubeconfig ] && [ $i -lt 900 ]; do sleep 0.2; i=$((i + 1)); done`,
    `  credentials="--kubeconfig ${GUEST_CONTROL}/kubeconfig"`,
    "fi",
    `node_modules/.bin/node bin/lastgasp.ts ${agent.join(" ")} $credentials >> ${GUEST_CONTROL}/agent.log 2>&1`,
    "",
  ].join("\n");
  return bootGuest(net, { ...spec, setup: { kind: "script" }, withNode: true, hold: true }, script);
}
