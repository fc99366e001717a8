// The operator under test runs as it does in production: `lastgasp receiver` and `lastgasp reconciler` as their
// own processes (optionally pinned to one CPU), so that their memory, CPU and latency are theirs alone.
import { createSocket } from "node:dgram";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../../test/harness/ports.ts";
import { ManagedProcess } from "../../test/harness/processes.ts";
import { waitFor } from "../../test/harness/wait.ts";
import { metricSum } from "./prometheus.ts";
import { memoryOf, type Memory } from "./procfs.ts";

const cli = fileURLToPath(new URL("../../bin/lastgasp.ts", import.meta.url));

export interface OperatorProcess {
  readonly process: ManagedProcess;
  readonly httpPort: number;
  /** The receiver's UDP port (0 for the reconciler). */
  readonly udpPort: number;
  metrics(): Promise<string>;
  /** The sum of one metric's samples matching `where`. */
  metric(name: string, where?: Record<string, string>): Promise<number>;
  memory(): Memory;
  stop(): Promise<void>;
}

export interface OperatorOptions {
  readonly kubeconfig: string;
  /** Directory for the process's log. */
  readonly dir: string;
  readonly flags?: readonly string[];
  /** Pin the process to this CPU (taskset). */
  readonly cpu?: number;
  /** Options for node itself, before the command (e.g. the chart's heap limit). */
  readonly nodeFlags?: readonly string[];
  /** The receiver's listening address (default 127.0.0.1). */
  readonly listenHost?: string;
  /** The command to run: the TypeScript sources (default) or the production build (bundle.ts). */
  readonly entry?: string;
}

/**
 * The receiver's pipeline without the node-address check (S1, S4, S5 send from loopback addresses that are no
 * Node's): what is measured is hearing, parsing and recording.
 */
export const RAW_PIPELINE = ["--node-sources-only", "false"];

export async function startReceiver(options: OperatorOptions): Promise<OperatorProcess> {
  const udpPort = await freeUdpPort();
  return start("receiver", options, udpPort, ["--listen", `${options.listenHost ?? "127.0.0.1"}:${udpPort}`]);
}

/** Waits until the reconciler holds the leader Lease, so that what follows is measured from a ready leader. */
export async function startReconciler(options: OperatorOptions): Promise<OperatorProcess> {
  const reconciler = await start("reconciler", options, 0, []);
  await waitFor(async () => (await reconciler.metric("lastgasp_reconciler_leader")) === 1, {
    what: "the reconciler to lead",
    timeoutMs: 30_000,
  });
  return reconciler;
}

async function start(
  component: "receiver" | "reconciler",
  options: OperatorOptions,
  udpPort: number,
  flags: string[],
): Promise<OperatorProcess> {
  const httpPort = await freePort();
  const args = [
    options.entry ?? cli,
    component,
    "--kubeconfig",
    options.kubeconfig,
    "--http-address",
    `127.0.0.1:${httpPort}`,
    "--log-level",
    // BENCH_LOG_LEVEL=info (or debug) to see where a figure's time goes; warn keeps the logging off the figures.
    process.env.BENCH_LOG_LEVEL ?? "warn",
    ...flags,
    ...(options.flags ?? []),
  ];
  const pinned = options.cpu === undefined ? [] : ["taskset", "-c", String(options.cpu)];
  const [command, ...rest] = [...pinned, process.execPath, ...(options.nodeFlags ?? []), ...args];
  const child = new ManagedProcess({
    name: `lastgasp ${component}`,
    command: command!,
    args: rest,
    logFile: join(options.dir, `${component}.log`),
  });
  const base = `http://127.0.0.1:${httpPort}`;
  const metrics = async () => (await fetch(`${base}/metrics`)).text();
  await waitFor(
    async () => {
      if (!child.running) throw new Error(`${component} exited; see ${child.logFile}`);
      return (await fetch(`${base}/readyz`).catch(() => undefined))?.ok === true;
    },
    { what: `${component} ready`, timeoutMs: 30_000 },
  );
  return {
    process: child,
    httpPort,
    udpPort,
    metrics,
    metric: async (name, where) => metricSum(await metrics(), name, where),
    memory: () => memoryOf(child.pid),
    stop: () => child.stop(15_000),
  };
}

export async function freeUdpPort(): Promise<number> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind({ address: "127.0.0.1", port: 0 }, resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(resolve));
  return port;
}
