// The operator as its image runs it: `podman run` of the image built from the Dockerfile (hack/image/build.sh),
// with what the chart gives the container (read-only root, user 65532, no capabilities, the memory limit, the
// receiver's NODE_OPTIONS and LASTGASP_MEMORY_LIMIT_BYTES), on the host's network. Its memory is the container's
// memory cgroup: what the kubelet and the OOM killer count, not the RSS of one process.
import { execFile } from "node:child_process";
import { chmodSync, copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "../../test/harness/ports.ts";
import { waitFor } from "../../test/harness/wait.ts";
import { freeUdpPort } from "./operator.ts";

const exec = promisify(execFile);
/** This VM grants no CAP_SYS_RESOURCE: podman must not try to raise these limits (../shared notes). */
const ULIMITS = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"];

export interface ContainerOptions {
  readonly image: string;
  readonly kubeconfig: string;
  /** Where the container's copy of the kubeconfig goes (readable by user 65532). */
  readonly dir: string;
  readonly memoryLimitBytes: number;
  /** CPUs the container may use (podman --cpuset-cpus), e.g. "0" or "0-1". */
  readonly cpuset: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly flags?: readonly string[];
}

export interface CgroupMemory {
  readonly usageMiB: number;
  readonly peakMiB: number;
}

export interface ContainerProcess {
  readonly udpPort: number;
  readonly httpPort: number;
  memory(): CgroupMemory;
  oomKilled(): Promise<boolean>;
  stop(): Promise<void>;
}

export async function startInContainer(
  component: "receiver" | "reconciler" | "agent",
  options: ContainerOptions,
): Promise<ContainerProcess> {
  const [udpPort, httpPort] = [component === "receiver" ? await freeUdpPort() : 0, await freePort()];
  const name = `lastgasp-bench-${component}-${process.pid}-${httpPort}`;
  const env = Object.entries({ ...options.env, LASTGASP_MEMORY_LIMIT_BYTES: String(options.memoryLimitBytes) });
  const [volumes, args] =
    component === "agent" ? [[], agentArgs()] : operatorArgs(component, options, udpPort, httpPort);
  await exec("podman", [
    "run",
    "--detach",
    "--name",
    name,
    "--network",
    "host",
    "--read-only",
    "--user",
    "65532:65532",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
    ...ULIMITS,
    "--memory",
    String(options.memoryLimitBytes),
    "--cpuset-cpus",
    options.cpuset,
    ...volumes,
    ...env.flatMap(([k, v]) => ["--env", `${k}=${v}`]),
    options.image,
    ...args,
    ...(options.flags ?? []),
  ]);
  const stop = async () => {
    await exec("podman", ["rm", "--force", "--time", "15", name]).catch(() => undefined);
  };
  try {
    // The agent serves no HTTP: up is running (it logs its failed checks on this node and stays up).
    const ready =
      component === "agent"
        ? async () =>
            (await exec("podman", ["inspect", "--format", "{{.State.Running}}", name])).stdout.trim() === "true"
        : async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`).catch(() => undefined))?.ok;
    await waitFor(ready, { what: `${component} ready in its container ${name}`, timeoutMs: 60_000 });
  } catch (err) {
    const { stdout, stderr } = await exec("podman", ["logs", name]).catch(() => ({ stdout: "", stderr: "" }));
    await stop();
    throw new Error(`${(err as Error).message}: ${(stdout + stderr).slice(-2000)}`, { cause: err });
  }
  const cgroup = (await exec("podman", ["inspect", "--format", "{{.State.CgroupPath}}", name])).stdout.trim();
  const memcg = join("/sys/fs/cgroup/memory", cgroup);
  const mib = (file: string) => Math.round((Number(readFileSync(join(memcg, file), "utf8")) / 2 ** 20) * 10) / 10;
  return {
    udpPort,
    httpPort,
    memory: () => ({ usageMiB: mib("memory.usage_in_bytes"), peakMiB: mib("memory.max_usage_in_bytes") }),
    oomKilled: async () =>
      (await exec("podman", ["inspect", "--format", "{{.State.OOMKilled}}", name])).stdout.trim() === "true",
    stop,
  };
}

/** The receiver's or the reconciler's volumes and arguments: a kubeconfig user 65532 can read, its ports. */
function operatorArgs(
  component: "receiver" | "reconciler",
  options: ContainerOptions,
  udpPort: number,
  httpPort: number,
): [string[], string[]] {
  const kubeconfig = join(options.dir, `${component}-kubeconfig`);
  copyFileSync(options.kubeconfig, kubeconfig);
  chmodSync(kubeconfig, 0o644);
  const listen = component === "receiver" ? ["--listen", `127.0.0.1:${udpPort}`] : [];
  return [
    ["--volume", `${kubeconfig}:/kubeconfig:ro`],
    [
      component,
      "--kubeconfig",
      "/kubeconfig",
      "--http-address",
      `127.0.0.1:${httpPort}`,
      "--log-level",
      "warn",
      ...listen,
    ],
  ];
}

/** The agent on this machine's kernel, which has no netconsole: it reports so, and stays up. */
function agentArgs(): string[] {
  return ["agent", "--receivers", "127.0.0.1:9", "--node-name", "bench-node", "--log-level", "error"];
}

/** Builds the image (hack/image/build.sh; its base is cached) and returns its name and size in bytes. */
export async function buildImage(root: string, image: string): Promise<{ image: string; bytes: number }> {
  const { stdout } = await exec("bash", [join(root, "hack/image/build.sh"), image], {
    maxBuffer: 64 << 20,
    timeout: 30 * 60_000,
  });
  const bytes = Number(/ (\d+) bytes/.exec(stdout)?.[1] ?? Number.NaN);
  return { image, bytes };
}

/** Why the image cannot be built and run here, or undefined. */
export async function containersUnavailable(): Promise<string | undefined> {
  for (const tool of ["buildah", "podman", "runc", "mmdebstrap"]) {
    const found = await exec("sh", ["-c", `command -v ${tool}`]).then(
      () => true,
      () => false,
    );
    if (!found) return `${tool} is missing (apt-get install buildah podman runc mmdebstrap)`;
  }
  return undefined;
}
