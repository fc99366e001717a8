// What a receiver's RSS cannot go below with what it is built from, measured on this machine in the same run as
// S5: Node itself (an empty process), Node with the receiver's Kubernetes layer loaded as the production build
// bundles it (operator/kube: @kubernetes/client-node and what it brings), and each worker thread (an empty one).
// Each is a fresh child process with the chart's V8 flags, read from /proc once its figure has settled.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { build } from "esbuild";
import { BUNDLE_OPTIONS } from "../../hack/bundle-options.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));

export interface MemoryFloor {
  /** An empty Node process. */
  readonly nodeMiB: number;
  /** Node with the receiver's Kubernetes layer (ClusterReader, ClusterWriter, AccessCheck, the kubeconfig) bundled. */
  readonly kubeClientMiB: number;
  /** What each empty worker thread adds (two started, the difference to none, halved). */
  readonly perWorkerMiB: number;
}

/** Reads its own VmRSS once the event loop has idled a while (modules evaluated, a GC run), and prints it. */
const REPORT = `setTimeout(() => { globalThis.gc?.(); setTimeout(() => {
  const kib = Number(/^VmRSS:\\s+(\\d+)/m.exec(require("node:fs").readFileSync("/proc/self/status", "utf8"))[1]);
  console.log(kib); process.exit(0); }, 500); }, 1500);`;

export async function memoryFloor(nodeFlags: readonly string[]): Promise<MemoryFloor> {
  const dir = mkdtempSync(join(tmpdir(), "lastgasp-memory-floor-"));
  try {
    const kube = join(dir, "kube.mjs");
    await bundleKubeLayer(kube);
    const node = await rssOf(nodeFlags, ["-e", REPORT]);
    const withKube = join(dir, "with-kube.mjs");
    writeFileSync(
      withKube,
      `import ${JSON.stringify(kube)};\nimport { createRequire } from "node:module";\nconst require = createRequire(import.meta.url);\n${REPORT}`,
    );
    const kubeClient = await rssOf(nodeFlags, [withKube]);
    const workers = `const { Worker } = require("node:worker_threads");
      for (let i = 0; i < 2; i++) new Worker("setInterval(() => {}, 1000)", { eval: true });\n${REPORT}`;
    const twoWorkers = await rssOf(nodeFlags, ["-e", workers]);
    return { nodeMiB: mib(node), kubeClientMiB: mib(kubeClient), perWorkerMiB: mib((twoWorkers - node) / 2) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function bundleKubeLayer(outfile: string): Promise<void> {
  const entry = ["reader.ts", "writer.ts", "access.ts", "kubeconfig.ts"]
    .map(
      (file, i) =>
        `import * as m${i} from ${JSON.stringify(join(root, "operator/kube", file))}; globalThis.m${i} = m${i};`,
    )
    .join("\n");
  await build({
    ...BUNDLE_OPTIONS,
    stdin: { contents: entry, resolveDir: root, loader: "ts" },
    outfile,
    logLevel: "warning",
  });
}

async function rssOf(nodeFlags: readonly string[], args: readonly string[]): Promise<number> {
  const { stdout } = await promisify(execFile)(process.execPath, ["--expose-gc", ...nodeFlags, ...args], {
    timeout: 30_000,
  });
  return Number(stdout.trim());
}

function mib(kib: number): number {
  return Math.round(kib / 102.4) / 10;
}
