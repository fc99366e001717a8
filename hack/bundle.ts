// The production build: the `lastgasp` command and the receive thread's module bundled by esbuild into dist/, with
// every dependency inlined. The image runs it instead of the TypeScript sources: no type stripping at run time
// (less memory in each isolate), no node_modules, no .d.ts or source maps (a smaller image).
//   node hack/bundle.ts [outdir]     (default dist/)
import { build } from "esbuild";
import { copyFileSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BUNDLE_OPTIONS } from "./bundle-options.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const outdir = process.argv[2] ?? join(root, "dist");

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });
const result = await build({
  ...BUNDLE_OPTIONS,
  absWorkingDir: root,
  entryPoints: { lastgasp: "bin/lastgasp.ts", "ingest-worker": "operator/receiver/thread/ingest-worker.ts" },
  outdir,
  splitting: true,
  // Flat: code that finds files beside itself (import.meta.url) finds them beside the entry points.
  chunkNames: "[name]-[hash]",
  legalComments: "linked",
  metafile: true,
  logLevel: "warning",
});
// Read at run time beside the bundle: the built-in detection patterns (operator/panics/detector/patterns.ts).
copyFileSync(join(root, "operator/panics/detector/patterns.yaml"), join(outdir, "patterns.yaml"));
// The receive threads' batched-receive addon (hack/addon/build.sh), found beside the bundle; without it they use
// Node's dgram and say so.
const addon = join(root, "build/batch_recv.node");
if (existsSync(addon)) copyFileSync(addon, join(outdir, "batch_recv.node"));
else process.stderr.write(`no ${addon} (bash hack/addon/build.sh): the bundle's receive threads will use dgram\n`);
const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
process.stdout.write(`bundled into ${outdir}: ${(bytes / 1024 / 1024).toFixed(1)} MiB of JavaScript\n`);
