// Shared plumbing of long-running commands: configuration errors reported cleanly, and SIGTERM/SIGINT turned
// into an orderly stop.
import { ConfigError } from "../config/settings.ts";
import { describe } from "../kube/errors.ts";

/** Runs `start`, then waits for SIGTERM or SIGINT and calls the returned stop function once. */
export async function runUntilSignalled(name: string, start: () => Promise<() => Promise<void>>): Promise<number> {
  let stop: () => Promise<void>;
  try {
    stop = await start();
  } catch (err) {
    return reportStartFailure(name, err);
  }
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => {
      resolve("SIGTERM");
    });
    process.once("SIGINT", () => {
      resolve("SIGINT");
    });
  });
  process.stderr.write(`lastgasp ${name}: received ${signal}, stopping\n`);
  await stop();
  return 0;
}

/** One line on stderr: a setting's error as it is, an API server's refusal as its status says (`403: … forbidden …`). */
export function reportStartFailure(name: string, err: unknown): number {
  const message = err instanceof ConfigError ? err.message : describe(err);
  process.stderr.write(`lastgasp ${name}: ${message}\n`);
  return err instanceof ConfigError ? 2 : 1;
}
