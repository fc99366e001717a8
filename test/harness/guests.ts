// Guests of the real-kernel tier: a Debian kernel in QEMU on the tier's tap device (hack/in-netns.sh), with an
// address of its own as the receiver sees it. One place for what every kernel test does: build the initramfs,
// boot, give the guest its scenario, wait for it with a hard deadline, and keep its console for diagnosis.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureKernel, type Kernel, type KernelSpec } from "./kernels.ts";
import type { ManagedProcess } from "./processes.ts";
import {
  BASE_MODULES,
  bootVm,
  buildInitramfs,
  DISK_MODULES,
  GUEST_CONTROL,
  GUEST_INIT,
  GUEST_SCENARIOS,
  guestParameters,
  PSTORE_APPEND,
  PSTORE_MODULES,
  scratchDisk,
  SHARE_MODULES,
  type GuestSetup,
  type Share,
} from "./vm.ts";
import { waitFor } from "./wait.ts";

/** A guest that has not finished its scenario within this long has failed (TCG boots in ~10 s here). */
export const GUEST_TIMEOUT_MS = 120_000;

/** The tier's network, as hack/in-netns.sh made it; the tests refuse to run anywhere else. */
export interface TierNetwork {
  readonly tap: string;
  readonly hostIp: string;
  readonly prefix: number;
}

export function tierNetwork(): TierNetwork {
  const tap = process.env.LASTGASP_VM_TAP;
  const hostIp = process.env.LASTGASP_VM_HOST_IP;
  if (tap === undefined || hostIp === undefined)
    throw new Error(
      "the real-kernel tier runs inside its network namespace: use `npm run test:kernel` (hack/in-netns.sh)",
    );
  return { tap, hostIp, prefix: Number(process.env.LASTGASP_VM_PREFIX ?? 24) };
}

/** The tap's MAC: the next hop a guest's netconsole must address its frames to. */
export function tapMac(tap: string): string {
  const [link] = JSON.parse(execFileSync("ip", ["-j", "link", "show", "dev", tap], { encoding: "utf8" })) as [
    { address: string },
  ];
  return link.address;
}

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

export interface GuestSpec {
  readonly kernel: KernelSpec;
  readonly node: { readonly name: string; readonly ip: string };
  readonly scenario: string;
  readonly setup: GuestSetup;
  /** The receiver's UDP port on the host's tap address. */
  readonly receiverPort: number;
  /** Where the guest's netconsole sends, through the tap: the host's tap address unless given (a pod's, say). */
  readonly receiverIp?: string;
  /** Run Node in the guest: the host's /usr and this repository are shared read-only; netconsole via modprobe. */
  readonly withNode?: boolean;
  /** Wait for `go` in the control directory before the scenario. */
  readonly hold?: boolean;
  readonly reboot?: boolean;
  /** Seconds the kernel waits after a panic before it resets (the kernel's panic=; the harness's default is 2). */
  readonly panicSeconds?: number;
  readonly quiet?: boolean;
  /** Extra files for the initramfs root (e.g. a crash module). */
  readonly files?: Readonly<Record<string, string | Buffer>>;
  /** Extra modules to load at boot, after the scenario's own. */
  readonly modules?: readonly string[];
  /** QEMU's QMP socket here, with the vmcoreinfo device (VmOptions.qmpSocket). */
  readonly qmpSocket?: string;
}

/** The pstore scenarios reboot after their panic (QEMU resets, guest RAM kept) and read pstore in the next boot. */
const PSTORE_SCENARIO = "pstore";
/** …and in these the node's setup loads ramoops with modprobe at every boot (last-words-guest.ts). */
const LAST_WORDS_SCENARIOS = new Set(["last-words", "last-words-cut"]);

export interface Guest {
  readonly vm: ManagedProcess;
  readonly kernel: Kernel;
  readonly consoleLog: string;
  /** The host's side of the guest's control share (GUEST_CONTROL): setup.sh, setup.log, setup.exit, go. */
  readonly control: string;
  /** Says go to a guest that holds. */
  go(): void;
  /** Resolves when the guest's setup script has exited, with its status and output. */
  setupDone(timeoutMs?: number): Promise<{ status: number; log: string }>;
  /** Resolves when the guest has powered off; stops it at the deadline. */
  finished(timeoutMs?: number): Promise<void>;
  readonly diagnosis: string;
}

/** Boots a guest that is `spec.node` on the tier's tap. `setupScript` is the guest's setup.sh (setup "script"). */
export function bootGuest(net: TierNetwork, spec: GuestSpec, setupScript?: string): Guest {
  const kernel = ensureKernel(spec.kernel);
  const hung = spec.scenario === "hung";
  const withNode = spec.withNode === true;
  const control = mkdtempSync(join(tmpdir(), `lastgasp-guest-${spec.node.name}-`));
  removeAtExitIfPassed(control);
  if (setupScript !== undefined) writeFileSync(join(control, "setup.sh"), setupScript);
  // The control share (9p) carries `go` to a guest that holds, and Node to one that runs it.
  const shares9p = withNode || spec.hold === true;
  const lastWords = LAST_WORDS_SCENARIOS.has(spec.scenario);
  const pstore = spec.scenario === PSTORE_SCENARIO || lastWords;
  const modules = [
    ...BASE_MODULES,
    ...(hung ? DISK_MODULES : []),
    ...(shares9p ? SHARE_MODULES : []),
    ...(pstore && !lastWords ? PSTORE_MODULES : []),
    ...(spec.modules ?? []),
  ];
  const initrd = buildInitramfs(kernel, {
    // With Node the agent loads netconsole itself (modprobe), as on a node.
    modules: withNode ? modules.filter((m) => m !== "netconsole") : modules,
    ...(withNode ? { modprobeModules: ["netconsole", ...(lastWords ? PSTORE_MODULES : [])] } : {}),
    init: GUEST_INIT,
    files: { scenario: GUEST_SCENARIOS, ...spec.files },
  });
  const shares: Share[] = [
    { tag: "ctl", hostPath: control, guestPath: GUEST_CONTROL, writable: true },
    ...(withNode
      ? [
          { tag: "usr", hostPath: "/usr", guestPath: "/usr" },
          { tag: "repo", hostPath: repoRoot, guestPath: repoRoot },
        ]
      : []),
  ];
  const consoleLog = join(control, "console.log");
  const vm = bootVm({
    kernel,
    initrd,
    consoleLog,
    append:
      guestParameters(
        {
          guestIp: spec.node.ip,
          prefix: net.prefix,
          receiverIp: spec.receiverIp ?? net.hostIp,
          receiverPort: spec.receiverPort,
          receiverMac: tapMac(net.tap),
        },
        spec.setup,
        spec.scenario,
        { shares, hold: spec.hold === true },
        // The last panic= on the command line wins over the harness's panic=2.
      ) +
      (spec.panicSeconds === undefined ? "" : ` panic=${spec.panicSeconds}`) +
      (pstore ? ` ${PSTORE_APPEND}` : ""),
    netdev: `tap,id=n0,ifname=${net.tap},script=no,downscript=no`,
    shares,
    ...(hung ? { disk: scratchDisk() } : {}),
    ...(spec.reboot === true || pstore ? { reboot: true } : {}),
    ...(spec.quiet === true ? { quiet: true } : {}),
    ...(spec.qmpSocket === undefined ? {} : { qmpSocket: spec.qmpSocket }),
  });
  const diagnosis = `the guest's console is in ${consoleLog}`;
  return {
    vm,
    kernel,
    consoleLog,
    control,
    diagnosis,
    go: () => {
      writeFileSync(join(control, "go"), "");
    },
    setupDone: async (timeoutMs = GUEST_TIMEOUT_MS) => {
      const exit = join(control, "setup.exit");
      await waitFor(() => existsSync(exit) && readFileSync(exit, "utf8").trim() !== "", {
        what: `${spec.node.name}'s setup (${diagnosis}; its output in ${join(control, "setup.log")})`,
        timeoutMs,
        intervalMs: 200,
      });
      const log = existsSync(join(control, "setup.log")) ? readFileSync(join(control, "setup.log"), "utf8") : "";
      return { status: Number(readFileSync(exit, "utf8").trim()), log };
    },
    finished: async (timeoutMs = GUEST_TIMEOUT_MS) => {
      const timer = setTimeout(() => void vm.stop(), timeoutMs);
      await vm.exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Boots a guest whose setup runs the real `lastgasp agent --once` towards `receivers` (its output in the control
 * share's agent.log), then the shell lines of `after`; the guest then holds for go before its scenario.
 */
export function bootAgentGuest(
  net: TierNetwork,
  spec: Omit<GuestSpec, "setup" | "withNode" | "hold">,
  receivers: readonly string[],
  after: readonly string[] = [],
): Guest {
  const agent = ["agent", "--once", "--receivers", receivers.join(","), "--node-name", spec.node.name];
  const script = [
    "set -e",
    // The node's own userland first: iproute2's ip and kmod's modprobe, as in the image.
    "export PATH=/usr/sbin:/usr/bin",
    `cd '${repoRoot}'`,
    `node_modules/.bin/node bin/lastgasp.ts ${agent.join(" ")} --source-ip ${spec.node.ip} > ${GUEST_CONTROL}/agent.log 2>&1`,
    ...after,
    "",
  ].join("\n");
  return bootGuest(net, { ...spec, setup: { kind: "script" }, withNode: true, hold: true }, script);
}

/** The agent's JSON log lines from a guest booted by bootAgentGuest. */
export function agentLog(guest: Guest): { level: string; message: string }[] {
  return readFileSync(join(guest.control, "agent.log"), "utf8")
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { level: string; message: string });
}

/** Guests' control directories (their console, setup and agent logs) made by this process. */
const controlDirs = new Set<string>();

/**
 * A guest's control directory is evidence while a test fails and litter once it passed: removed when the test
 * file's process exits with success, kept for reading otherwise.
 */
function removeAtExitIfPassed(dir: string): void {
  if (controlDirs.size === 0)
    process.once("exit", (code) => {
      if (code !== 0 || (process.exitCode ?? 0) !== 0) return;
      for (const each of controlDirs) rmSync(each, { recursive: true, force: true });
    });
  controlDirs.add(dir);
}
