// Another client's writes during a scenario, measured by ../probes/writes.ts in its own process.
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { roundDistribution, summarize, type Distribution } from "./stats.ts";

export interface WriteProbeResult {
  readonly writeLatencyMs: Distribution;
  readonly throttled: number;
  readonly errors: number;
}

interface ChildReport {
  readonly latencies: number[];
  readonly throttled: number;
  readonly errors: number;
}

const script = fileURLToPath(new URL("../probes/writes.ts", import.meta.url));

/** Starts writing `rate` ConfigMaps per second into `namespace`; resolves once the first write is under way. */
export async function startWriteProbe(kubeconfig: string, namespace: string, rate: number) {
  const child = fork(script, [kubeconfig, namespace, String(rate)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const report = new Promise<ChildReport>((resolve, reject) => {
    child.on("message", (m) => {
      if (typeof m === "object") resolve(m as unknown as ChildReport);
    });
    child.once("exit", (code) => {
      reject(new Error(`write probe exited with ${code} before reporting`));
    });
  });
  report.catch(() => undefined);
  await new Promise<void>((resolve, reject) => {
    child.once("message", () => {
      resolve();
    });
    child.once("exit", () => {
      reject(new Error("write probe exited during start-up"));
    });
  });
  let result: Promise<WriteProbeResult> | undefined;
  const collect = async (): Promise<WriteProbeResult> => {
    if (child.connected) child.send("stop");
    const r = await report;
    return { writeLatencyMs: roundDistribution(summarize(r.latencies)), throttled: r.throttled, errors: r.errors };
  };
  return { stop: (): Promise<WriteProbeResult> => (result ??= collect()) };
}
