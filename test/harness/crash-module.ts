// The oops scenario's crash module (test/kernel/guest/lastgasp_oops.c), built against Debian's own headers for a
// pinned kernel: the headers packages come from apt-get download (cached beside the kernels), the build needs
// gcc and make. Debian does not enforce module signatures, so the unsigned module loads (tainting the kernel).
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { which } from "./vm.ts";
import { ensureKernel, fetchPackages, kernelCacheRoot, type KernelSpec } from "./kernels.ts";

const source = fileURLToPath(new URL("../kernel/guest/lastgasp_oops.c", import.meta.url));

/** The module's path for `spec`, built on first use (the headers downloaded then too). */
export function ensureCrashModule(spec: KernelSpec): string {
  const kernel = ensureKernel(spec);
  if (spec.headers === undefined) throw new Error(`${spec.package}: no headers packages pinned for a crash module`);
  const dir = join(kernelCacheRoot(), `crash-module_${kernel.release}`);
  const built = join(dir, "lastgasp_oops.ko");
  // Rebuilt when the source changes: the cache keeps the source it was built from.
  if (existsSync(built) && readFileSync(join(dir, "lastgasp_oops.c"), "utf8") === readFileSync(source, "utf8"))
    return built;
  const headers = ensureHeaders(spec, kernel.release);
  for (const tool of ["gcc", "make"])
    which(tool, "apt-get install gcc make (the oops test's module is built with them)");
  const work = mkdtempSync(join(kernelCacheRoot(), ".module-"));
  try {
    copyFileSync(source, join(work, "lastgasp_oops.c"));
    writeFileSync(join(work, "Kbuild"), "obj-m := lastgasp_oops.o\n");
    execFileSync("make", ["-C", headers, `M=${work}`, "modules"], { stdio: "pipe" });
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(work, "lastgasp_oops.ko"), built);
    copyFileSync(source, join(dir, "lastgasp_oops.c"));
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? "");
    throw new Error(`building the oops module against ${headers} failed: ${stderr.trim() || (err as Error).message}`, {
      cause: err,
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return built;
}

/** The extracted headers tree (usr/src/linux-headers-<release>), its Makefile pointed at the extracted common part. */
function ensureHeaders(spec: KernelSpec, release: string): string {
  const root = join(kernelCacheRoot(), `headers_${release}`);
  const tree = join(root, "usr", "src", `linux-headers-${release}`);
  if (existsSync(join(tree, "Makefile"))) return tree;
  fetchPackages(spec.headers!, root, `pin the headers of ${spec.package} in test/harness/kernels.ts`);
  // The flavour's Makefile includes the common headers by their installed path, /usr/src/…: point it here.
  const makefile = join(tree, "Makefile");
  writeFileSync(makefile, readFileSync(makefile, "utf8").replaceAll(" /usr/src/", ` ${join(root, "usr", "src")}/`));
  return tree;
}
