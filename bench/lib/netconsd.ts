// Meta's netconsd beside lastgasp in S4 (`npm run bench -- --netconsd PATH`): the same chatter at the same rates,
// from the same generator, to a netconsd with no output module (its core receives, parses and drops: the least
// work a netconsole receiver can do). A fresh daemon per rate; on SIGTERM it logs the messages its workers
// processed, which is the figure compared with lastgasp's processed share. docs/benchmarks.md says how to build it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { ManagedProcess } from "../../test/harness/processes.ts";
import { waitFor } from "../../test/harness/wait.ts";
import { startBlaster } from "./blaster.ts";
import { logDir } from "./logs.ts";
import { freeUdpPort } from "./operator.ts";
import { udpSocketDrops } from "./procfs.ts";

export interface NetconsdStep {
  readonly targetPps: number;
  readonly achievedPps: number;
  readonly sent: number;
  readonly processed: number;
  readonly socketDrops: number;
}

/** netconsd's own count at exit: "Total messages processed by workers: N from H hosts". */
export function processedByWorkers(log: string): number {
  const match = /Total messages processed by workers: (\d+)/.exec(log);
  if (match === null) throw new Error(`netconsd did not report what it processed:\n${log.slice(-2000)}`);
  return Number(match[1]);
}

/** Runs the shared mode's load against netconsd at each rate; `sources` loopback sources on both CPUs. */
export async function netconsdSteps(
  binary: string,
  request: { rates: readonly number[]; durationMs: number; sources: number },
  log: (message: string) => void,
): Promise<NetconsdStep[]> {
  const port = await freeUdpPort();
  const generator = await startBlaster(port, request.sources, 4);
  const dir = logDir("S4-netconsd");
  const steps: NetconsdStep[] = [];
  try {
    for (const rate of request.rates) {
      const logFile = join(dir, `netconsd-${rate}.log`);
      const daemon = new ManagedProcess({
        name: "netconsd",
        command: binary,
        args: ["-a", "127.0.0.1", "-u", String(port)],
        logFile,
      });
      await waitListening(port, daemon);
      const dropsBefore = udpSocketDrops(port);
      const { sent, elapsedMs } = await generator.run({ rate, durationMs: request.durationMs, panicSources: [] });
      await delay(1000); // what is still queued in its socket is read
      const socketDrops = udpSocketDrops(port) - dropsBefore;
      await daemon.stop(10_000);
      const processed = processedByWorkers(readFileSync(logFile, "utf8"));
      const step = {
        targetPps: rate,
        achievedPps: Math.round((sent / elapsedMs) * 1000),
        sent,
        processed,
        socketDrops,
      };
      log(`S4 shared netconsd: ${rate} pps target, ${step.achievedPps} sent/s, ${processed}/${sent} processed`);
      steps.push(step);
    }
  } finally {
    generator.stop();
  }
  return steps;
}

/** Until netconsd's socket is bound (in /proc/net/udp6: it listens on an IPv6 socket, IPv4 mapped into it). */
async function waitListening(port: number, daemon: ManagedProcess): Promise<void> {
  const local = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  await waitFor(
    () => {
      if (!daemon.running) throw new Error(`netconsd exited; see ${daemon.logFile}`);
      const tables = readFileSync("/proc/net/udp6", "utf8") + readFileSync("/proc/net/udp", "utf8");
      return tables.split("\n").some((line) => line.trim().split(/\s+/)[1]?.endsWith(local));
    },
    { what: `netconsd bound to port ${port} (${daemon.logFile})`, timeoutMs: 10_000, intervalMs: 50 },
  );
}
