// Starts ../probes/loadgen.ts pinned to one CPU and drives it run by run.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { RunReport, RunRequest } from "../probes/loadgen.ts";

const script = fileURLToPath(new URL("../probes/loadgen.ts", import.meta.url));

export interface LoadGenerator {
  run(request: RunRequest): Promise<RunReport>;
  stop(): void;
}

/** `sources` sockets bound to 127.<octet>.x.y, sending to 127.0.0.1:<port>; pinned to `cpu`. */
export async function startLoadGenerator(port: number, sources: number, octet: number, cpu: number) {
  const child = spawn(
    "taskset",
    ["-c", String(cpu), process.execPath, script, String(port), String(sources), String(octet)],
    {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    },
  );
  await new Promise<void>((resolve, reject) => {
    child.once("message", () => {
      resolve();
    });
    child.once("exit", (code) => {
      reject(new Error(`load generator exited with ${code} during start-up`));
    });
  });
  const generator: LoadGenerator = {
    run: (request) =>
      new Promise<RunReport>((resolve, reject) => {
        child.once("message", (report) => {
          resolve(report as unknown as RunReport);
        });
        child.once("exit", () => {
          reject(new Error("load generator exited"));
        });
        child.send(request);
      }),
    stop: () => child.kill(),
  };
  return generator;
}
