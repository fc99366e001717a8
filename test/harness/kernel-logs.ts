// Real kernel logs the tests replay live in the repository (test/fixtures/kernel-logs, with where each came from
// and its licence), so a clone with nothing beside it runs every test.
import { fileURLToPath } from "node:url";

export function kernelLogsDir(): string {
  return fileURLToPath(new URL("../fixtures/kernel-logs", import.meta.url));
}
