// A real Kubernetes control plane for tests, the demo and benchmarks: etcd and kube-apiserver on free loopback
// ports in a temp dir, RBAC on, an admin kubeconfig, ServiceAccount tokens through TokenRequest, the CRDs of
// crds/ installed; optionally kube-controller-manager and kwok. `stop()` stops everything it started.
import type { KubeConfig } from "@kubernetes/client-node";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureBinaries, required, type Binaries, type Component } from "./binaries.ts";
import { writeCredentials } from "./credentials.ts";
import { installCrds } from "./crds.ts";
import {
  startApiServer,
  startControllerManager,
  startEtcd,
  startKwok,
  startScheduler,
  type ApiServerOptions,
  type Launch,
} from "./components.ts";
import { kubeConfigFromYaml, kubeconfigYaml } from "./kubeconfig.ts";
import type { ManagedProcess } from "./processes.ts";
import { fastTempBase, ownedTempDir, sweepStaleDirs } from "./tempdirs.ts";

export interface ControlPlaneOptions {
  /** Start kube-controller-manager (garbage collection, Job/Deployment controllers, node lifecycle). */
  readonly controllerManager?: boolean;
  /** Start kube-scheduler, so that pods without spec.nodeName (Deployments, Jobs) land on nodes. */
  readonly scheduler?: boolean;
  /** Start kwok, which simulates kubelets for Nodes annotated kwok.x-k8s.io/node=fake. */
  readonly kwok?: boolean;
  /** State directory; a fresh temp dir (removed on stop) when omitted. */
  readonly dir?: string;
  /** Leave the processes running after this process exits (make testenv-up). */
  readonly persistent?: boolean;
  /** Directory of CRD manifests to install; the repository's crds/ by default. */
  readonly crdDir?: string;
  /** The apiserver's address and ServiceAccount admission (a real kubelet's pods must reach it: test/e2e). */
  readonly apiserver?: ApiServerOptions;
}

/** What is needed to use, and later stop, a running control plane; saved as JSON for make testenv-down. */
export interface ControlPlaneState {
  readonly dir: string;
  readonly ownsDir: boolean;
  readonly etcdDataDir: string;
  readonly kubeconfigPath: string;
  readonly server: string;
  readonly pids: readonly number[];
}

const controlPlanePrefix = "lastgasp-controlplane-";
const etcdPrefix = "lastgasp-etcd-";

export const repoCrdDir = fileURLToPath(new URL("../../crds/", import.meta.url));

/** What it takes to start the apiserver again on the same port (tests of an API server outage). */
interface ApiServerRestart {
  readonly start: () => Promise<ManagedProcess>;
  process: ManagedProcess;
}

export class ControlPlane {
  readonly state: ControlPlaneState;
  readonly crds: readonly string[];
  private readonly processes: ManagedProcess[];
  private readonly apiserver: ApiServerRestart;

  private readonly binaries: Binaries;
  private readonly launch: Launch;

  private constructor(init: {
    state: ControlPlaneState;
    crds: readonly string[];
    processes: ManagedProcess[];
    apiserver: ApiServerRestart;
    binaries: Binaries;
    launch: Launch;
  }) {
    this.state = init.state;
    this.crds = init.crds;
    this.processes = init.processes;
    this.apiserver = init.apiserver;
    this.binaries = init.binaries;
    this.launch = init.launch;
  }

  /**
   * Simulated kubelets for the Nodes annotated kwok.x-k8s.io/node=<group> (see fixtures' kwokNode). Stopping
   * the returned process is those nodes' kubelets dying: no more heartbeats, no more Lease renewals. With
   * `kubeletPort`, the nodes say their kubelet listens there (status.daemonEndpoints), as real ones do.
   */
  async startKubelets(group: string, kubeletPort?: number): Promise<ManagedProcess> {
    const kubelets = await startKwok(
      required(this.binaries, "KWOK"),
      required(this.binaries, "KWOK_STAGES"),
      this.launch,
      this.state.kubeconfigPath,
      { group, ...(kubeletPort === undefined ? {} : { kubeletPort }) },
    );
    this.processes.push(kubelets);
    return kubelets;
  }

  /** Stops kube-apiserver only (etcd and the rest keep running): an API outage as clients see it. */
  async stopApiServer(): Promise<void> {
    await this.apiserver.process.stop();
  }

  /** Starts kube-apiserver again on the same port, with the same credentials and data. */
  async startApiServer(): Promise<void> {
    const old = this.apiserver.process;
    this.apiserver.process = await this.apiserver.start();
    this.processes.splice(this.processes.indexOf(old), 1, this.apiserver.process);
  }

  static async start(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
    const components: Component[] = ["etcd", "kubernetes"];
    if (options.kwok === true) components.push("kwok");
    const binaries = await ensureBinaries(components);
    sweepStaleDirs([controlPlanePrefix, etcdPrefix]);
    const persistent = options.persistent === true;
    const dir = options.dir ?? ownedTempDir(tmpdir(), controlPlanePrefix, persistent);
    mkdirSync(dir, { recursive: true });
    const launch: Launch = { dir, persistent };
    // etcd on tmpfs: the apiserver's write latency is then etcd's fsync-free latency.
    const etcdDataDir = ownedTempDir(fastTempBase(), etcdPrefix, persistent);
    const processes: ManagedProcess[] = [];
    try {
      return await ControlPlane.boot({ binaries, launch, options, etcdDataDir, processes });
    } catch (err) {
      for (const p of processes.reverse()) await p.stop();
      rmSync(etcdDataDir, { recursive: true, force: true });
      throw err;
    }
  }

  private static async boot(ctx: {
    binaries: Binaries;
    launch: Launch;
    options: ControlPlaneOptions;
    etcdDataDir: string;
    processes: ManagedProcess[];
  }): Promise<ControlPlane> {
    const { binaries, launch, options, processes } = ctx;
    const credentials = writeCredentials(launch.dir);
    const etcd = await startEtcd(required(binaries, "ETCD"), launch, join(ctx.etcdDataDir, "data"));
    processes.push(etcd.process);
    const apiserverOptions = options.apiserver ?? {};
    const apiserver = await startApiServer(
      required(binaries, "KUBE_APISERVER"),
      launch,
      etcd.url,
      credentials,
      apiserverOptions,
    );
    processes.push(apiserver.process);
    const port = Number(new URL(apiserver.server).port);
    const restart: ApiServerRestart = {
      process: apiserver.process,
      start: async () =>
        (
          await startApiServer(required(binaries, "KUBE_APISERVER"), launch, etcd.url, credentials, {
            ...apiserverOptions,
            port,
          })
        ).process,
    };
    const caData = readFileSync(apiserver.caFile).toString("base64");
    const kubeconfigPath = join(launch.dir, "kubeconfig");
    writeFileSync(
      kubeconfigPath,
      kubeconfigYaml({ server: apiserver.server, caData }, "admin", credentials.adminToken),
      { mode: 0o600 },
    );
    const crds = await installCrds(
      kubeConfigFromYaml(readFileSync(kubeconfigPath, "utf8")),
      options.crdDir ?? repoCrdDir,
    );
    // The optional components only talk to the apiserver, so they start side by side.
    const optional: Promise<ManagedProcess>[] = [];
    if (options.controllerManager === true) {
      const binary = required(binaries, "KUBE_CONTROLLER_MANAGER");
      optional.push(startControllerManager(binary, launch, kubeconfigPath, credentials, apiserver.caFile));
    }
    if (options.scheduler === true) {
      optional.push(startScheduler(required(binaries, "KUBE_SCHEDULER"), launch, kubeconfigPath));
    }
    if (options.kwok === true) {
      optional.push(startKwok(required(binaries, "KWOK"), required(binaries, "KWOK_STAGES"), launch, kubeconfigPath));
    }
    const results = await Promise.allSettled(optional);
    for (const r of results) if (r.status === "fulfilled") processes.push(r.value);
    const failure = results.find((r) => r.status === "rejected");
    if (failure !== undefined) throw failure.reason;
    const state: ControlPlaneState = {
      dir: launch.dir,
      ownsDir: options.dir === undefined,
      etcdDataDir: ctx.etcdDataDir,
      kubeconfigPath,
      server: apiserver.server,
      pids: processes.map((p) => p.pid),
    };
    return new ControlPlane({ state, crds, processes, apiserver: restart, binaries, launch });
  }

  get kubeconfigPath(): string {
    return this.state.kubeconfigPath;
  }

  /** A client configuration with the admin's full rights (system:masters). */
  adminKubeConfig(): KubeConfig {
    return kubeConfigFromYaml(readFileSync(this.state.kubeconfigPath, "utf8"));
  }

  async stop(): Promise<void> {
    // Reverse order: clients of the apiserver first, etcd last.
    for (const p of [...this.processes].reverse()) await p.stop();
    removeState(this.state);
  }
}

export function removeState(state: ControlPlaneState): void {
  rmSync(state.etcdDataDir, { recursive: true, force: true });
  if (state.ownsDir) rmSync(state.dir, { recursive: true, force: true });
}
