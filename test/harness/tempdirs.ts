// Temp dirs of control planes (and etcd's tmpfs data) tagged with the pid that owns them. A run that is killed
// cannot clean up after itself, so every start sweeps the dirs whose owner is gone.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onExit } from "./processes.ts";

const ownerFile = ".lastgasp-owner";

/** A new dir under `base`, removed when this process exits (unless `persistent`) or swept once it is gone. */
export function ownedTempDir(base: string, prefix: string, persistent: boolean): string {
  const dir = mkdtempSync(join(base, prefix));
  if (!persistent) {
    writeFileSync(join(dir, ownerFile), String(process.pid));
    onExit(() => {
      rmSync(dir, { recursive: true, force: true });
    });
  }
  return dir;
}

/** The tmpfs to keep etcd's data on, when the machine has one. */
export function fastTempBase(): string {
  return existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
}

export function sweepStaleDirs(prefixes: readonly string[]): void {
  for (const base of new Set([tmpdir(), fastTempBase()])) {
    for (const name of readdirSync(base)) {
      if (!prefixes.some((p) => name.startsWith(p))) continue;
      const owner = readOwner(join(base, name));
      if (owner !== undefined && !isAlive(owner)) rmSync(join(base, name), { recursive: true, force: true });
    }
  }
}

function readOwner(dir: string): number | undefined {
  try {
    return Number(readFileSync(join(dir, ownerFile), "utf8"));
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
