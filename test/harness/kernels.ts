// Real Linux kernels for the real-kernel tier: Debian's signed kernel packages, pinned to exact versions,
// downloaded with apt-get (no install, no initramfs hooks) and extracted once into
// ${XDG_CACHE_HOME:-~/.cache}/lastgasp/kernels/. Debian keeps only the newest build of a security update: when a
// pin is gone from the archive, the error says so and names what to pin instead.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export interface KernelSpec {
  /** Debian package, e.g. linux-image-6.1.0-50-amd64 (the -amd64 flavour has 9p; -cloud-amd64 has not). */
  readonly package: string;
  readonly version: string;
  /** apt-get download arguments for the headers a module is built against (the oops test's crash module). */
  readonly headers?: readonly string[];
}

export interface Kernel {
  readonly spec: KernelSpec;
  /** `uname -r` of the kernel, e.g. 6.1.0-50-amd64. */
  readonly release: string;
  readonly vmlinuz: string;
  readonly modulesDir: string;
}

/** bookworm's own 6.1: netconsole without `release` and userdata (before 6.5 and 6.9). */
export const KERNEL_6_1: KernelSpec = {
  package: "linux-image-6.1.0-50-amd64",
  version: "6.1.176-1",
  // kbuild (scripts, modpost) is not pinned: Debian builds one per 6.1 series and keeps only the newest.
  headers: ["linux-headers-6.1.0-50-amd64=6.1.176-1", "linux-headers-6.1.0-50-common=6.1.176-1", "linux-kbuild-6.1"],
};
/** 6.12 from bookworm-security: netconsole with `release` and userdata. */
export const KERNEL_6_12: KernelSpec = {
  package: "linux-image-6.12.100+deb12-amd64",
  version: "6.12.100-1~deb12u1",
};

export function kernelCacheRoot(): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "lastgasp", "kernels");
}

/** The kernel, downloaded and extracted on first use. Throws with a clear message when it cannot be had. */
export function ensureKernel(spec: KernelSpec): Kernel {
  const dir = join(kernelCacheRoot(), `${spec.package}_${spec.version}`);
  if (!existsSync(join(dir, "boot"))) fetchKernel(spec, dir);
  const vmlinuz = readdirSync(join(dir, "boot")).find((f) => f.startsWith("vmlinuz-"));
  if (vmlinuz === undefined) throw new Error(`${dir}: no boot/vmlinuz-* in ${spec.package}`);
  const release = vmlinuz.slice("vmlinuz-".length);
  return { spec, release, vmlinuz: join(dir, "boot", vmlinuz), modulesDir: join(dir, "lib", "modules", release) };
}

function fetchKernel(spec: KernelSpec, dir: string): void {
  fetchPackages(
    [`${spec.package}=${spec.version}`],
    dir,
    `if Debian no longer has this build, pin the version \`apt-cache policy ${spec.package}\` shows in test/harness/kernels.ts`,
  );
}

/**
 * Downloads Debian packages with apt-get (no install), extracts them all into one tree and moves it to `dir` in
 * the kernel cache, replacing what was there. `hint` says what to do when a package cannot be had.
 */
export function fetchPackages(packages: readonly string[], dir: string, hint: string): void {
  mkdirSync(kernelCacheRoot(), { recursive: true });
  const work = mkdtempSync(join(kernelCacheRoot(), ".fetch-"));
  try {
    try {
      execFileSync("apt-get", ["download", ...packages], { cwd: work, stdio: "pipe" });
    } catch (err) {
      const stderr = String((err as { stderr?: Buffer }).stderr ?? "");
      throw new Error(
        `cannot download ${packages.join(" ")} with apt-get (run apt-get update; ${hint}): ${stderr.trim()}`,
        { cause: err },
      );
    }
    const debs = readdirSync(work).filter((f) => f.endsWith(".deb"));
    if (debs.length !== packages.length)
      throw new Error(`apt-get download of ${packages.join(" ")} produced ${debs.length} .deb files`);
    const extracted = join(work, "x");
    for (const deb of debs) execFileSync("dpkg-deb", ["-x", join(work, deb), extracted]);
    rmSync(dir, { recursive: true, force: true });
    renameSync(extracted, dir);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
