// Starts ../probes/loadgen.ts pinned to one CPU and drives it run by run.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { RunReport, RunRequest } from "../probes/loadgen.ts";

const script = fileURLToPath(new URL("../probes/loadgen.ts", import.meta.url));

export interface LoadGenerator {
  run(request: RunRequest): Promise<RunReport>;
  stop(): void;
}

/** The child's next message; rejects if it exits first (each wait removes its own exit listener). */
function nextMessage(child: ChildProcess, when: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => {
      reject(new Error(`load generator exited with ${code} ${when}`));
    };
    child.once("exit", onExit);
    child.once("message", (message) => {
      child.off("exit", onExit);
      resolve(message);
    });
  });
}

/** `sources` sockets bound to 127.<octet>.x.y, sending to 127.0.0.1:<port>; pinned to `cpu` when given. */
export async function startLoadGenerator(port: number, sources: number, octet: number, cpu?: number) {
  const command = [process.execPath, script, String(port), String(sources), String(octet)];
  const pinned = cpu === undefined ? command : ["taskset", "-c", String(cpu), ...command];
  const child = spawn(pinned[0]!, pinned.slice(1), { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  await nextMessage(child, "during start-up");
  const generator: LoadGenerator = {
    run: async (request) => {
      const report = nextMessage(child, "during a run");
      child.send(request);
      return (await report) as RunReport;
    },
    stop: () => child.kill(),
  };
  return generator;
}
