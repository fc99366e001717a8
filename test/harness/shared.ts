// The project's shared reference material (real kernel logs) lives beside the repository, in ../shared, as it
// does in CI. LASTGASP_SHARED_DIR points elsewhere when needed.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("../../", import.meta.url));

export function kernelLogsDir(): string {
  const shared = process.env.LASTGASP_SHARED_DIR ?? resolve(repo, "..", "shared");
  const dir = resolve(shared, "fixtures", "kernel-logs");
  if (!existsSync(dir))
    throw new Error(`kernel log fixtures not found at ${dir}: clone next to shared/ or set LASTGASP_SHARED_DIR`);
  return dir;
}
