// How each control-plane component is started: its flags and how to tell it is ready. This mirrors what
// controller-runtime's envtest does, plus RBAC, ServiceAccount token signing and, optionally, a controller
// manager and kwok (simulated kubelets).
import { mkdirSync, readdirSync } from "node:fs";
import { get as httpGet } from "node:http";
import { get as httpsGet } from "node:https";
import { join } from "node:path";
import { ManagedProcess } from "./processes.ts";
import { freePort } from "./ports.ts";
import { waitFor } from "./wait.ts";
import type { Credentials } from "./credentials.ts";

export interface Launch {
  readonly dir: string;
  readonly persistent: boolean;
}

const readyTimeoutMs = 60_000;

/** GET that resolves true on a 200. TLS is not verified: probes run before a serving certificate is known. */
async function probeHttp(url: string, headers: Record<string, string> = {}): Promise<boolean> {
  const get = url.startsWith("https:") ? httpsGet : httpGet;
  return new Promise((resolve) => {
    const req = get(url, { headers, rejectUnauthorized: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.once("error", () => {
      resolve(false);
    });
    req.once("timeout", () => req.destroy());
  });
}

/**
 * Waits for `url` to answer 200, failing early (with the log's path) if the process dies; a process that never
 * becomes ready is stopped, so a failed start leaves nothing behind.
 */
async function awaitReady(process: ManagedProcess, url: string, headers?: Record<string, string>): Promise<void> {
  try {
    await waitFor(
      async () => {
        if (!process.running) throw new Error(`${process.name} exited during start-up; see ${process.logFile}`);
        return probeHttp(url, headers);
      },
      { what: `${process.name} at ${url} (log: ${process.logFile})`, timeoutMs: readyTimeoutMs, intervalMs: 100 },
    );
  } catch (err) {
    await process.stop();
    throw err;
  }
}

export async function startEtcd(
  binary: string,
  launch: Launch,
  dataDir: string,
): Promise<{ process: ManagedProcess; url: string }> {
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const process = new ManagedProcess({
    name: "etcd",
    command: binary,
    args: [
      "--name=lastgasp",
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=lastgasp=${peer}`,
      // Tests do not need durability; fsync dominates write latency otherwise.
      "--unsafe-no-fsync",
      "--log-level=warn",
    ],
    logFile: join(launch.dir, "etcd.log"),
    persistent: launch.persistent,
  });
  await awaitReady(process, `${url}/health`);
  return { process, url };
}

export interface ApiServer {
  readonly process: ManagedProcess;
  readonly server: string;
  readonly caFile: string;
}

/** Where the apiserver listens, and whether pods get ServiceAccount tokens (the real-node tier, test/e2e). */
export interface ApiServerOptions {
  /** Listen and advertise here (the `kubernetes` Service's endpoint); loopback by default. */
  readonly address?: string;
  /** The ServiceAccount admission plugin: pods get their ServiceAccount's projected token, as in any cluster. */
  readonly serviceAccounts?: boolean;
}

export async function startApiServer(
  binary: string,
  launch: Launch,
  etcdUrl: string,
  credentials: Credentials,
  options: ApiServerOptions & { port?: number } = {},
): Promise<ApiServer> {
  const { address = "127.0.0.1", serviceAccounts = false } = options;
  const securePort = options.port ?? (await freePort());
  const certDir = join(launch.dir, "apiserver-certs");
  mkdirSync(certDir, { recursive: true });
  const process = new ManagedProcess({
    name: "kube-apiserver",
    command: binary,
    args: [
      `--etcd-servers=${etcdUrl}`,
      `--bind-address=${address}`,
      `--advertise-address=${address}`,
      `--secure-port=${securePort}`,
      `--cert-dir=${certDir}`,
      "--service-cluster-ip-range=10.0.0.0/24",
      // RBAC is part of what we test: never AlwaysAllow.
      "--authorization-mode=RBAC",
      `--token-auth-file=${credentials.tokenAuthFile}`,
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      `--service-account-key-file=${credentials.serviceAccountPublicKey}`,
      `--service-account-signing-key-file=${credentials.serviceAccountPrivateKey}`,
      // Only the real-node tier runs pods for real; elsewhere no kubelet would mount their tokens.
      ...(serviceAccounts ? [] : ["--disable-admission-plugins=ServiceAccount"]),
      "--allow-privileged=true",
      "--profiling=false",
    ],
    logFile: join(launch.dir, "kube-apiserver.log"),
    persistent: launch.persistent,
  });
  const server = `https://${address}:${securePort}`;
  const caFile = join(certDir, "apiserver.crt");
  await awaitReady(process, `${server}/readyz`, { authorization: `Bearer ${credentials.adminToken}` });
  return { process, server, caFile };
}

export async function startControllerManager(
  binary: string,
  launch: Launch,
  kubeconfig: string,
  credentials: Credentials,
  caFile: string,
): Promise<ManagedProcess> {
  return startKubeComponent("kube-controller-manager", binary, launch, kubeconfig, [
    `--service-account-private-key-file=${credentials.serviceAccountPrivateKey}`,
    `--root-ca-file=${caFile}`,
    "--use-service-account-credentials=false",
  ]);
}

export async function startScheduler(binary: string, launch: Launch, kubeconfig: string): Promise<ManagedProcess> {
  return startKubeComponent("kube-scheduler", binary, launch, kubeconfig, []);
}

/** kube-controller-manager and kube-scheduler: the admin kubeconfig, no leader election, HTTPS /healthz. */
async function startKubeComponent(
  name: string,
  binary: string,
  launch: Launch,
  kubeconfig: string,
  extraArgs: string[],
): Promise<ManagedProcess> {
  const port = await freePort();
  const process = new ManagedProcess({
    name,
    command: binary,
    args: [
      `--kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      "--leader-elect=false",
      "--bind-address=127.0.0.1",
      `--secure-port=${port}`,
      "--profiling=false",
      ...extraArgs,
    ],
    logFile: join(launch.dir, `${name}.log`),
    persistent: launch.persistent,
  });
  await awaitReady(process, `https://127.0.0.1:${port}/healthz`);
  return process;
}

/** The annotation that puts a Node under kwok's management: its simulated kubelet. */
export const kwokNodeAnnotation = { key: "kwok.x-k8s.io/node", value: "fake" } as const;

/**
 * The kwok stages loaded: nodes become Ready and renew their Lease, pods go Running, deleted pods go away.
 * Deliberately not `pod-complete` (which finishes Job pods at once): pods run until a test ends them.
 */
const kwokStages = ["node-initialize", "node-heartbeat-with-lease", "pod-ready", "pod-delete"];

/**
 * Starts kwok for the Nodes annotated kwok.x-k8s.io/node=<group>. The control plane's own kwok serves group
 * "fake"; a test starts another group's kwok to have nodes whose kubelets it can kill (kwok keeps renewing a
 * node's Lease even after the node loses its annotation, so killing the process is the only true stop).
 */
export async function startKwok(
  binary: string,
  stagesDir: string,
  launch: Launch,
  kubeconfig: string,
  nodes: { group?: string; kubeletPort?: number } = {},
): Promise<ManagedProcess> {
  const { group = kwokNodeAnnotation.value, kubeletPort } = nodes;
  const port = await freePort();
  const available = new Set(readdirSync(stagesDir));
  const stages = kwokStages.map((stage) => {
    if (!available.has(`${stage}.yaml`)) throw new Error(`kwok stage ${stage}.yaml missing from ${stagesDir}`);
    return `--config=${join(stagesDir, `${stage}.yaml`)}`;
  });
  const process = new ManagedProcess({
    name: "kwok",
    command: binary,
    args: [
      `--kubeconfig=${kubeconfig}`,
      "--manage-all-nodes=false",
      `--manage-nodes-with-annotation-selector=${kwokNodeAnnotation.key}=${group}`,
      `--server-address=127.0.0.1:${port}`,
      "--node-lease-duration-seconds=40",
      ...(kubeletPort === undefined ? [] : [`--node-port=${kubeletPort}`]),
      ...stages,
    ],
    logFile: join(launch.dir, `kwok-${group}.log`),
    persistent: launch.persistent,
  });
  await awaitReady(process, `http://127.0.0.1:${port}/healthz`);
  return process;
}
