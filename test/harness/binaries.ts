// Locates the control-plane binaries through hack/controlplane/ensure.sh, the single place that knows the
// pinned versions, the cache layout and KUBEBUILDER_ASSETS. It builds whatever is missing (once per machine).
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export type Component = "etcd" | "kubernetes" | "kwok" | "helm" | "lua" | "promtool" | "monitoring-crds";

export interface Binaries {
  readonly ETCD?: string;
  readonly KUBE_APISERVER?: string;
  readonly KUBE_CONTROLLER_MANAGER?: string;
  readonly KUBE_SCHEDULER?: string;
  readonly KUBECTL?: string;
  readonly KWOK?: string;
  readonly KWOK_STAGES?: string;
  readonly HELM?: string;
  /** gopher-lua's interpreter: Lua 5.1, as Argo CD runs health checks. */
  readonly GLUA?: string;
  readonly PROMTOOL?: string;
  /** A directory with the Prometheus Operator's ServiceMonitor, PodMonitor and PrometheusRule CRDs. */
  readonly MONITORING_CRDS?: string;
}

const ensureScript = fileURLToPath(new URL("../../hack/controlplane/ensure.sh", import.meta.url));

export async function ensureBinaries(components: readonly Component[]): Promise<Binaries> {
  // stderr is inherited so that a first, slow build shows its progress.
  const child = spawn("bash", [ensureScript, ...components], { stdio: ["ignore", "pipe", "inherit"] });
  let stdout = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject).once("close", resolve);
  });
  if (code !== 0) throw new Error(`${ensureScript} ${components.join(" ")} failed with exit code ${code}`);
  const entries = stdout
    .split("\n")
    .filter((line) => line.includes("="))
    .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]);
  return Object.fromEntries(entries) as Binaries;
}

export function required(binaries: Binaries, name: keyof Binaries): string {
  const path = binaries[name];
  if (path === undefined) throw new Error(`control-plane binary ${name} was not provided by ${ensureScript}`);
  return path;
}
