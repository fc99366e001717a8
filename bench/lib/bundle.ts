// The production build (hack/bundle.ts, what the image runs) for scenarios that measure what users install:
// built once per bench run into a directory of its own laid out as the image's /app (package.json and dist/,
// the addon beside the bundle), removed when the run ends.
import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const root = fileURLToPath(new URL("../..", import.meta.url));
let built: Promise<string> | undefined;

/** The bundled command's entry point (dist/lastgasp.js), built on first use. */
export function productionBuild(): Promise<string> {
  built ??= (async () => {
    const app = mkdtempSync(join(tmpdir(), "lastgasp-bench-app-"));
    process.once("exit", () => {
      rmSync(app, { recursive: true, force: true });
    });
    await promisify(execFile)(process.execPath, [join(root, "hack/bundle.ts"), join(app, "dist")], {
      timeout: 120_000,
    });
    copyFileSync(join(root, "package.json"), join(app, "package.json"));
    return join(app, "dist/lastgasp.js");
  })();
  return built;
}
