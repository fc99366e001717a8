// A real node for the real-node tier (test/e2e): the kubelet, kube-proxy and containerd of hack/e2e/node-up.sh,
// with the images built here loaded into containerd (no registry). Everything this VM needs to run them lives in
// those scripts; the tests see a Node like any other. `stop()` (or this process's exit) runs node-down.sh, which
// removes the containers, the pods' network namespaces and every mount left behind.
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { onExit } from "./processes.ts";
import { fastTempBase } from "./tempdirs.ts";
import { waitFor } from "./wait.ts";

const exec = promisify(execFile);
const scripts = fileURLToPath(new URL("../../hack/e2e/", import.meta.url));

/** The Node's name (node-up.sh's --hostname-override). */
export const REAL_NODE_NAME = "lastgasp-e2e";

export class RealNode {
  readonly dir: string;
  private stopped = false;

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** Starts the node at `ip` with `images` in containerd, and waits until its Node is Ready. */
  static async start(kc: KubeConfig, kubeconfigPath: string, ip: string, images: readonly string[]): Promise<RealNode> {
    const dir = mkdtempSync(join(fastTempBase(), "lastgasp-node-"));
    const node = new RealNode(dir);
    onExit(() => {
      node.stopSync();
    });
    try {
      await exec("bash", [join(scripts, "node-up.sh"), kubeconfigPath, dir], {
        env: { ...process.env, LASTGASP_NODE_IP: ip, LASTGASP_IMAGE: images.join(" ") },
        maxBuffer: 16 << 20,
      });
      await waitFor(
        async () => {
          const status = (await kc.makeApiClient(CoreV1Api).readNode({ name: REAL_NODE_NAME })).status;
          return status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
        },
        { what: `Node ${REAL_NODE_NAME} Ready (logs in ${dir})`, timeoutMs: 120_000, intervalMs: 500 },
      );
    } catch (err) {
      node.stopSync();
      throw err;
    }
    return node;
  }

  /** Containers that still run: containerd's tasks in the kubelet's namespace, with their image. */
  async runningContainers(): Promise<{ id: string; image: string }[]> {
    const { stdout } = await this.ctr("containers", "list");
    const images = new Map(
      stdout
        .split("\n")
        .slice(1)
        .filter((line) => line.trim() !== "")
        .map((line) => line.split(/\s+/) as [string, string]),
    );
    const tasks = (await this.ctr("tasks", "list")).stdout.split("\n").slice(1);
    return tasks
      .map((line) => line.trim().split(/\s+/))
      .filter((fields) => fields[2] === "RUNNING")
      .map(([id]) => ({ id: id!, image: images.get(id!) ?? "" }));
  }

  /** The last lines each container of `namespace` logged (the kubelet's podLogsDir), for a failed test's report. */
  logTails(namespace: string, lines = 15): string {
    const root = join(this.dir, "pod-logs");
    if (!existsSync(root)) return "";
    return readdirSync(root)
      .filter((pod) => pod.startsWith(`${namespace}_`))
      .flatMap((pod) =>
        readdirSync(join(root, pod)).flatMap((container) =>
          readdirSync(join(root, pod, container)).map((file) => {
            const text = readFileSync(join(root, pod, container, file), "utf8")
              .trimEnd()
              .split("\n")
              .slice(-lines);
            return `--- ${pod}/${container}/${file}\n${text.join("\n")}`;
          }),
        ),
      )
      .join("\n");
  }

  private async ctr(...args: string[]): Promise<{ stdout: string }> {
    return exec("ctr", ["--address", join(this.dir, "containerd", "containerd.sock"), "-n", "k8s.io", ...args]);
  }

  stop(): Promise<void> {
    this.stopSync();
    return Promise.resolve();
  }

  private stopSync(): void {
    if (this.stopped) return;
    this.stopped = true;
    execFileSync("bash", [join(scripts, "node-down.sh"), this.dir], { stdio: "ignore" });
  }
}
