// `make demo`: the lastgasp story on one machine. For now it brings up a local control plane with kwok-simulated
// nodes running real Deployment pods and shows it working; the receiver and reconciler join it as they land.
import { AppsV1Api, CoreV1Api } from "@kubernetes/client-node";
import { spawnSync } from "node:child_process";
import { ensureBinaries, required } from "../test/harness/binaries.ts";
import { ControlPlane } from "../test/harness/controlplane.ts";
import { kwokNode } from "../test/harness/fixtures.ts";
import { waitFor } from "../test/harness/wait.ts";

const nodes = [
  { name: "worker-1", ip: "127.0.0.11" },
  { name: "worker-2", ip: "127.0.0.12" },
  { name: "worker-3", ip: "127.0.0.13" },
];

function say(text: string): void {
  process.stdout.write(`\n\x1b[1m== ${text}\x1b[0m\n`);
}

function kubectl(binary: string, kubeconfig: string, ...args: string[]): void {
  process.stdout.write(`$ kubectl ${args.join(" ")}\n`);
  const result = spawnSync(binary, args, { stdio: "inherit", env: { ...process.env, KUBECONFIG: kubeconfig } });
  if (result.status !== 0) throw new Error(`kubectl ${args.join(" ")} failed with exit code ${result.status}`);
}

async function main(): Promise<void> {
  say("Starting a local control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok");
  const started = Date.now();
  const plane = await ControlPlane.start({ controllerManager: true, scheduler: true, kwok: true });
  try {
    process.stdout.write(`Ready in ${((Date.now() - started) / 1000).toFixed(1)} s at ${plane.state.server}\n`);
    const run = kubectl.bind(null, required(await ensureBinaries(["kubernetes"]), "KUBECTL"), plane.kubeconfigPath);
    run("version");
    run("get", "crds");

    say("Three nodes whose kubelets kwok simulates, with loopback IPs standing in for real node addresses");
    const kc = plane.adminKubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    for (const n of nodes) await core.createNode({ body: kwokNode(n.name, n.ip) });
    await waitFor(
      async () =>
        (await core.listNode()).items.every((n) =>
          n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
        ),
      {
        what: "nodes to be Ready",
      },
    );
    run("get", "nodes", "-o", "wide");

    say("A Deployment of six pods, scheduled onto those nodes and Running");
    await kc.makeApiClient(AppsV1Api).createNamespacedDeployment({ namespace: "default", body: deployment("web", 6) });
    await waitFor(
      async () =>
        (await core.listNamespacedPod({ namespace: "default" })).items.filter((p) => p.status?.phase === "Running")
          .length === 6,
      {
        what: "six Running pods",
      },
    );
    run("get", "pods", "-o", "wide");

    say("Next: a node's kernel panics, lastgasp hears it over netconsole and fails its pods with a reason");
    process.stdout.write("(The receiver and reconciler are not built yet; this demo grows with them.)\n");
  } finally {
    say("Stopping everything");
    await plane.stop();
    process.stdout.write("Done: no process left running.\n");
  }
}

function deployment(name: string, replicas: number) {
  const labels = { app: name };
  return {
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          containers: [{ name, image: "registry.k8s.io/pause:3.10" }],
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: "kubernetes.io/hostname",
              whenUnsatisfiable: "DoNotSchedule",
              labelSelector: { matchLabels: labels },
            },
          ],
        },
      },
    },
  };
}

await main();
