// `make demo`: the lastgasp story on one machine. A local control plane with kwok-simulated nodes running pods;
// lastgasp's receiver and reconciler running against it; one node's kernel panics (its kubelet stops and a real
// netconsole panic is sent from its IP); then what the user sees. It ends with the end state the story promised,
// checked (one JSON line, "Demo end state: {...}"; the exit code is 1 when any part of it is not so), which
// test/integration/demo.test.ts asserts. Everything stops on exit.
import { AppsV1Api, BatchV1Api, CoreV1Api } from "@kubernetes/client-node";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { encodeExtended } from "../operator/netconsole/encode.ts";
import { sendDatagrams } from "../operator/sender/send.ts";
import { ensureBinaries, required } from "../test/harness/binaries.ts";
import { ControlPlane } from "../test/harness/controlplane.ts";
import { kwokNode } from "../test/harness/fixtures.ts";
import { eventsFor, listKernelPanicEvents, startTestReceiver } from "../test/harness/receiver.ts";
import { startTestReconciler } from "../test/harness/reconciler.ts";
import { waitFor } from "../test/harness/wait.ts";
import type { KubeConfig } from "@kubernetes/client-node";

const victim = { name: "worker-3", ip: "127.0.0.13" };
const panicLog = fileURLToPath(new URL("./demo-panic.log", import.meta.url));
const lastgasp = fileURLToPath(new URL("../bin/lastgasp.ts", import.meta.url));

function say(text: string): void {
  process.stdout.write(`\n\x1b[1m== ${text}\x1b[0m\n`);
}

async function main(): Promise<void> {
  say("Starting a local control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok");
  const plane = await ControlPlane.start({ controllerManager: true, scheduler: true, kwok: true });
  try {
    const kubectlBinary = required(await ensureBinaries(["kubernetes"]), "KUBECTL");
    const kubectl = (...args: string[]) => {
      process.stdout.write(`$ kubectl ${args.join(" ")}\n`);
      spawnSync(kubectlBinary, args, { stdio: "inherit", env: { ...process.env, KUBECONFIG: plane.kubeconfigPath } });
    };
    await story(plane, kubectl);
  } finally {
    say("Stopping everything");
    await plane.stop();
    process.stdout.write("Done: no process left running.\n");
  }
}

async function story(plane: ControlPlane, kubectl: (...args: string[]) => void): Promise<void> {
  const kc = plane.adminKubeConfig();
  const core = kc.makeApiClient(CoreV1Api);

  say("Three nodes (kwok simulates their kubelets); loopback IPs stand in for the nodes' addresses");
  // worker-3's kubelet runs in a process of its own, so that it can die alone.
  const victimKubelet = await plane.startKubelets("victim");
  // worker-3 and its batch Job come first, so that the Job's pod runs there.
  await core.createNode({ body: kwokNode(victim.name, victim.ip, "victim") });
  await createJob(kc);
  await waitFor(
    async () =>
      (await core.listNamespacedPod({ namespace: "default", labelSelector: "job-name=batch" })).items.some(
        (p) => p.status?.phase === "Running",
      ),
    { what: "the Job's pod", timeoutMs: 60_000 },
  );
  await core.createNode({ body: kwokNode("worker-1", "127.0.0.11") });
  await core.createNode({ body: kwokNode("worker-2", "127.0.0.12") });
  await waitFor(
    async () =>
      (await core.listNode()).items.filter((n) =>
        n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
      ).length === 3,
    {
      what: "three Ready nodes",
    },
  );
  kubectl("get", "nodes", "-o", "wide");

  say(
    "Workloads: a batch Job on worker-3 whose podFailurePolicy ignores disruptions, and a Deployment spread over the nodes",
  );
  await createDeployment(kc);
  await waitFor(
    async () =>
      (await core.listNamespacedPod({ namespace: "default" })).items.filter((p) => p.status?.phase === "Running")
        .length === 7,
    {
      what: "seven Running pods",
      timeoutMs: 60_000,
    },
  );
  kubectl("get", "pods", "-o", "wide");

  say("lastgasp starts: the receiver listens for netconsole, the reconciler watches KernelPanicEvents");
  const { receiver, target } = await startTestReceiver(kc);
  const reconciler = await startTestReconciler(kc, ["--leader-elect", "false"]);
  const pods = (await core.listNamespacedPod({ namespace: "default" })).items;
  const onVictim = pods.filter((p) => p.spec?.nodeName === victim.name).map((p) => p.metadata?.name ?? "");
  const elsewhere = pods.find((p) => p.spec?.nodeName !== victim.name)?.metadata?.name ?? "";
  try {
    await panic(victimKubelet, target);
    await aftermath(kc, kubectl);
    const whyAnswered = await nextMorning(core, plane.kubeconfigPath, onVictim, elsewhere);
    await reportEndState(kc, kubectl, { whyExplainsEveryPod: whyAnswered });
  } finally {
    await receiver.stop();
    await reconciler.stop();
  }
}

async function panic(victimKubelet: { stop(): Promise<void> }, target: string): Promise<void> {
  say(`worker-3's kernel panics: its kubelet stops, and netconsole sends the kernel's last words from ${victim.ip}`);
  await victimKubelet.stop();
  const lines = readFileSync(panicLog, "utf8").trimEnd().split("\n");
  process.stdout.write(
    `$ lastgasp send --to ${target} --from ${victim.ip} --extended --userdata node=${victim.name} hack/demo-panic.log\n`,
  );
  await sendDatagrams(
    encodeExtended(lines, { extended: true, release: "6.9.7-lastgasp", userdata: { node: victim.name } }),
    { to: target, from: victim.ip },
  );
}

async function aftermath(kc: KubeConfig, kubectl: (...args: string[]) => void): Promise<void> {
  say("The panic is recorded at once as a KernelPanicEvent");
  await eventsFor(kc, victim.ip);
  kubectl("get", "kernelpanicevents", "-o", "wide");
  say(
    "The reconciler watches worker-3's Lease for a full renewal interval: it stays unchanged, so the kubelet is dead (a forged packet about a live node would be refused here), then acts",
  );
  await waitFor(
    async () =>
      (await listKernelPanicEvents(kc)).some((e) =>
        e.status?.conditions?.some((c) => c.type === "Remediated" && c.status === "True"),
      ),
    { what: "the panic remediated", timeoutMs: 60_000, intervalMs: 250 },
  );
  kubectl("get", "kernelpanicevents");
  kubectl(
    "get",
    "kernelpanicevents",
    "-o",
    'jsonpath={range .items[0].status.conditions[*]}{.type}={.status} ({.reason}): {.message}{"\\n"}{end}',
  );

  say("worker-3's pods: marked Failed with a DisruptionTarget condition and a reason, then deleted at once");
  kubectl(
    "get",
    "events",
    "--field-selector",
    "reason=KernelPanic",
    "-o",
    "custom-columns=OBJECT:.involvedObject.name,MESSAGE:.message",
  );

  say("The node is gone; the Deployment's pods were replaced on the remaining nodes");
  kubectl("get", "nodes");
  kubectl("get", "pods", "-o", "wide");

  say(
    "The Job retries without counting a failure (podFailurePolicy ignores DisruptionTarget; the Job controller waits its 10 s backoff)",
  );
  const batch = kc.makeApiClient(BatchV1Api);
  await waitFor(
    async () => ((await batch.readNamespacedJob({ namespace: "default", name: "batch" })).status?.active ?? 0) > 0,
    { what: "the Job's replacement", timeoutMs: 60_000, intervalMs: 500 },
  );
  kubectl(
    "get",
    "job",
    "batch",
    "-o",
    "custom-columns=JOB:.metadata.name,ACTIVE:.status.active,FAILED:.status.failed,SUCCEEDED:.status.succeeded",
  );
  kubectl("get", "pods", "-l", "job-name=batch", "-o", "wide");
}

/**
 * The next morning the pods' Events have expired (deleted here, as their hour's TTL would): `lastgasp why` still
 * says, for each of worker-3's pods, which node, which panic and what was done, and that a pod lastgasp never
 * touched is in no record. True when every answer was so.
 */
async function nextMorning(
  core: CoreV1Api,
  kubeconfig: string,
  onVictim: string[],
  elsewhere: string,
): Promise<boolean> {
  say("The next morning: the pods' Events have expired, and lastgasp why still tells each of worker-3's pods' story");
  await core.deleteCollectionNamespacedEvent({ namespace: "default" });
  const why = (pod: string) => {
    process.stdout.write(`$ lastgasp why default/${pod}\n`);
    const run = spawnSync(process.execPath, [lastgasp, "why", "--kubeconfig", kubeconfig, `default/${pod}`], {
      encoding: "utf8",
    });
    process.stdout.write(run.stdout + run.stderr);
    return run;
  };
  const explained = onVictim.map((pod) => {
    const run = why(pod);
    return run.status === 0 && new RegExp(`node:\\s+${victim.name}, which had a kernel panic`).test(run.stdout);
  });
  const untouched = why(elsewhere);
  return (
    onVictim.length > 0 &&
    explained.every(Boolean) &&
    untouched.status === 1 &&
    untouched.stdout.includes("not found in any record")
  );
}

/** What the story promised, read back from the API server: each field true when it is so. */
/**
 * Reads the end state until it holds, or END_STATE_WAIT_MS passed (the Deployment's replacements may still be
 * starting on a busy machine), then reports it.
 */
async function reportEndState(
  kc: KubeConfig,
  kubectl: (...args: string[]) => void,
  told: Record<string, boolean>,
): Promise<void> {
  let state = { ...(await readEndState(kc)), ...told };
  const deadline = Date.now() + END_STATE_WAIT_MS;
  while (!Object.values(state).every(Boolean) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    state = { ...(await readEndState(kc)), ...told };
  }
  const held = Object.values(state).every(Boolean);
  say(held ? "Everything happened as told" : "Something did not happen as told");
  if (!held) kubectl("get", "job", "batch", "-o", 'jsonpath={.status}{"\\n"}');
  process.stdout.write(`Demo end state: ${JSON.stringify(state)}\n`);
  if (!held) process.exitCode = 1;
}

const END_STATE_WAIT_MS = 60_000;

async function readEndState(kc: KubeConfig): Promise<Record<string, boolean>> {
  const core = kc.makeApiClient(CoreV1Api);
  const events = await listKernelPanicEvents(kc);
  const remediated = events.find((e) => e.spec.hostIP === victim.ip);
  const condition = (type: string) => remediated?.status?.conditions?.find((c) => c.type === type);
  const nodes = (await core.listNode()).items.map((n) => n.metadata?.name ?? "");
  const pods = (await core.listNamespacedPod({ namespace: "default" })).items;
  const job = await kc.makeApiClient(BatchV1Api).readNamespacedJob({ namespace: "default", name: "batch" });
  return {
    panicRecorded: remediated !== undefined && remediated.spec.reason !== "",
    remediated: condition("Remediated")?.status === "True" && condition("PodsTerminated")?.status === "True",
    victimNodeGone: !nodes.includes(victim.name) && nodes.length === 2,
    // Deleted; a Job's pod stays Failed until the Job controller has counted it (its tracking finalizer).
    victimPodsFailedAndDeleted: pods
      .filter((p) => p.spec?.nodeName === victim.name)
      .every((p) => p.status?.phase === "Failed" && p.metadata?.deletionTimestamp !== undefined),
    deploymentRunningElsewhere:
      pods.filter((p) => p.metadata?.labels?.app === "web" && p.status?.phase === "Running").length === 6,
    jobRetriedWithoutFailure:
      (job.status?.failed ?? 0) === 0 && (job.status?.active ?? 0) + (job.status?.succeeded ?? 0) > 0,
  };
}

const container = [{ name: "main", image: "registry.k8s.io/pause:3.10" }];

async function createDeployment(kc: KubeConfig): Promise<void> {
  const labels = { app: "web" };
  await kc.makeApiClient(AppsV1Api).createNamespacedDeployment({
    namespace: "default",
    body: {
      metadata: { name: "web" },
      spec: {
        replicas: 6,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            containers: container,
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
    },
  });
}

async function createJob(kc: KubeConfig): Promise<void> {
  await kc.makeApiClient(BatchV1Api).createNamespacedJob({
    namespace: "default",
    body: {
      metadata: { name: "batch" },
      spec: {
        backoffLimit: 0,
        podFailurePolicy: { rules: [{ action: "Ignore", onPodConditions: [{ type: "DisruptionTarget" }] }] },
        template: {
          spec: { restartPolicy: "Never", containers: container },
        },
      },
    },
  });
}

await main();
