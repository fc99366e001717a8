// Child processes of the test harness (etcd, kube-apiserver, …) and the guarantee that none outlives the run.
//
// Two safety nets: every process is started under `setpriv --pdeathsig SIGKILL`, so the kernel kills it when
// the harness dies, even by SIGKILL; and exit/SIGINT/SIGTERM handlers stop every process still registered.
// A `persistent` process (make testenv-up) gets neither: it is meant to outlive the command that started it.
import { spawn, type ChildProcess } from "node:child_process";
import { openSync, closeSync } from "node:fs";

export interface ProcessSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly logFile: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly persistent?: boolean;
}

export class ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;

  constructor(spec: ProcessSpec) {
    const out = openSync(spec.logFile, "a");
    const [command, args] = spec.persistent
      ? [spec.command, spec.args]
      : ["setpriv", ["--pdeathsig", "SIGKILL", "--", spec.command, ...spec.args]];
    try {
      this.child = spawn(command, args, {
        stdio: ["ignore", out, out],
        env: spec.env ?? process.env,
        detached: spec.persistent === true,
      });
    } finally {
      closeSync(out);
    }
    if (this.child.pid === undefined) throw new Error(`could not start ${spec.name} (${spec.command})`);
    this.name = spec.name;
    this.pid = this.child.pid;
    this.logFile = spec.logFile;
    this.exited = new Promise((resolve) =>
      this.child.once("exit", (code) => {
        resolve(code);
      }),
    );
    // Never keeps this process alive: a failed test must not hang the run. Non-persistent children are still
    // killed on exit (handlers below) and by the kernel if this process dies (pdeathsig).
    this.child.unref();
    if (spec.persistent !== true) live.add(this);
    void this.exited.then(() => live.delete(this));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  killNow(): void {
    if (this.running) this.child.kill("SIGKILL");
  }
}

const live = new Set<ManagedProcess>();
const exitHooks: (() => void)[] = [];

/** Registers synchronous clean-up to run when this process exits, normally or by SIGINT/SIGTERM/SIGHUP. */
export function onExit(hook: () => void): void {
  exitHooks.push(hook);
}

function cleanUp(): void {
  for (const p of live) p.killNow();
  for (const hook of exitHooks.splice(0)) hook();
}

process.once("exit", cleanUp);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(signal, () => {
    cleanUp();
    process.kill(process.pid, signal);
  });
}
