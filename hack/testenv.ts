// `make testenv-up` / `make testenv-down`: a control plane (with kube-controller-manager and kwok, CRDs
// installed) left running for manual use, its state in .testenv/ (git-ignored).
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ControlPlane, removeState, type ControlPlaneState } from "../test/harness/controlplane.ts";
import { isAlive } from "../test/harness/tempdirs.ts";
import { waitFor } from "../test/harness/wait.ts";

const repo = fileURLToPath(new URL("..", import.meta.url));
const envDir = resolve(repo, ".testenv");
const stateFile = join(envDir, "state.json");

async function up(): Promise<number> {
  if (existsSync(stateFile)) {
    const state = readState();
    if (state.pids.some(isAlive)) {
      process.stdout.write(`A test environment is already running (${state.server}).\n${usageHint()}`);
      return 0;
    }
    removeState(state);
  }
  mkdirSync(envDir, { recursive: true });
  const plane = await ControlPlane.start({
    dir: join(envDir, "run"),
    persistent: true,
    controllerManager: true,
    scheduler: true,
    kwok: true,
  });
  const kubeconfig = join(envDir, "kubeconfig");
  writeFileSync(kubeconfig, readFileSync(plane.kubeconfigPath), { mode: 0o600 });
  writeFileSync(stateFile, JSON.stringify(plane.state, null, 2));
  process.stdout.write(
    `Control plane running at ${plane.state.server} (CRDs: ${plane.crds.join(", ") || "none"}).\n${usageHint()}`,
  );
  return 0;
}

async function down(): Promise<number> {
  if (!existsSync(stateFile)) {
    process.stdout.write("No test environment is running.\n");
    return 0;
  }
  const state = readState();
  // Clients of the apiserver first and etcd last, each given time to shut down gracefully.
  for (const pid of [...state.pids].reverse()) await stopGroup(pid);
  removeState(state);
  rmSync(envDir, { recursive: true, force: true });
  process.stdout.write("Test environment stopped.\n");
  return 0;
}

function readState(): ControlPlaneState {
  return JSON.parse(readFileSync(stateFile, "utf8")) as ControlPlaneState;
}

/** Persistent processes lead their own process group: signal the whole group. */
async function stopGroup(pid: number): Promise<void> {
  signal(pid, "SIGTERM");
  try {
    await waitFor(() => !isAlive(pid), { what: `process ${pid} to exit`, timeoutMs: 10_000, intervalMs: 50 });
  } catch {
    signal(pid, "SIGKILL");
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // Already gone.
  }
}

function usageHint(): string {
  const kubeconfig = relative(process.cwd(), join(envDir, "kubeconfig")) || join(envDir, "kubeconfig");
  return `Use it with:\n  export KUBECONFIG=${kubeconfig}\n  kubectl get nodes,crds\nStop it with: make testenv-down\n`;
}

const command = process.argv[2];
if (command === "up") process.exitCode = await up();
else if (command === "down") process.exitCode = await down();
else {
  process.stderr.write("usage: node hack/testenv.ts up|down\n");
  process.exitCode = 2;
}
