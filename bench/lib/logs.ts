// Where the operator processes of a benchmark run write their logs: kept after the run (git-ignored) so that a
// surprising figure can be explained.
import { mkdirSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";

export function logDir(scenario: string): string {
  const dir = fileURLToPath(new URL(`../results/logs/${scenario}/`, import.meta.url));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}
