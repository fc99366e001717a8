// A real Linux node in a QEMU guest (TCG: no KVM needed): a Debian kernel, a busybox initramfs that loads the
// modules it needs, configures netconsole through configfs and then does what the test asks (panic, run the
// agent, …). The console goes to a file for diagnosis; QEMU runs under the harness's pdeathsig discipline and a
// hard timeout, so no guest outlives its test.
import { SELF_TEST_MARKER } from "../../operator/api/selftest.ts";
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  statSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative } from "node:path";
import type { Kernel } from "./kernels.ts";
import { ManagedProcess } from "./processes.ts";

/** Modules every guest loads (dependencies are resolved and loaded first). */
export const BASE_MODULES = ["virtio_pci", "virtio_net", "configfs", "netconsole"];
/** What the hung-task scenario adds: a virtio disk with an ext4 (ext2-formatted) filesystem to freeze (ext4 needs a crc32c driver, which no dependency names). */
export const DISK_MODULES = ["virtio_blk", "crc32c_generic", "ext4"];
/** What a guest that runs Node needs: 9p, to mount the host's /usr, the repository and a control directory. */
export const SHARE_MODULES = ["9pnet_virtio", "9p"];
/** What the pstore scenario adds: ramoops (pstore in RAM) and the Reed-Solomon code it checks its records with. */
export const PSTORE_MODULES = ["reed_solomon", "ramoops"];

/**
 * The ramoops region of the pstore scenario, in a guest of 256 MiB: 1 MiB at 240 MiB, reserved from the kernel's own
 * use by `memmap=` (PSTORE_APPEND) and handed to ramoops as module parameters. QEMU keeps guest RAM across a reset,
 * so what the kernel writes there at its panic is read back in the next boot, as a node's firmware keeps it.
 */
export const PSTORE_RAM = { address: "0x0f000000", size: "0x100000", recordSize: "0x20000" } as const;
export const PSTORE_APPEND = `memmap=1M$${PSTORE_RAM.address}`;
/** How a node's setup loads ramoops on its region (the last-words scenarios: modprobe, as on a node). */
export const RAMOOPS_MODPROBE = `modprobe ramoops mem_address=${PSTORE_RAM.address} mem_size=${PSTORE_RAM.size} record_size=${PSTORE_RAM.recordSize}`;
/** How the pstore scenario prints each pstore file on the console: begin NAME, its bytes in base64, end. */
export const PSTORE_CONSOLE_MARK = "lastgasp-pstore:";

/**
 * A host directory the guest mounts over 9p at `guestPath` in its NODE_ROOT (read-only unless `writable`): the
 * host's /usr gives the guest Node's libraries, iproute2 and kmod; the repository the project and its pinned Node.
 */
export interface Share {
  readonly tag: string;
  readonly hostPath: string;
  readonly guestPath: string;
  readonly writable?: boolean;
}

/** The guest's side of a netconsole target, passed on the kernel command line (lg.*) to the guest's init. */
export interface GuestNetwork {
  readonly guestIp: string;
  readonly prefix: number;
  readonly receiverIp: string;
  readonly receiverPort: number;
  /** The next hop's MAC towards the receiver, as netconsole needs it. */
  readonly receiverMac: string;
}

export interface GuestNetconsole {
  readonly extended: boolean;
  /** Prepend the kernel release (6.5+). */
  readonly release: boolean;
  /** node=<name> userdata (6.9+). */
  readonly node?: string;
  /**
   * After enabling the target, write the node agent's self-test line (this node's name and boot id) to /dev/kmsg,
   * as the agent does, and the boot id to the control share's boot_id (the host gives it to the Node).
   */
  readonly selfTest?: boolean;
}

/** The path of `command`; throws saying how to install it when it is missing. */
export function which(
  command: string,
  install = "apt-get install qemu-system-x86 busybox-static xz-utils kmod (the real-kernel tests need it)",
): string {
  try {
    return execFileSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" }).trim();
  } catch {
    throw new Error(`${command} is missing: ${install}`);
  }
}

/** Every module file of the kernel by module name (names use `_`; files may use `-`). */
function moduleFiles(kernel: Kernel): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.ko(\.xz|\.zst)?$/.test(entry))
        files.set(entry.replace(/\.ko(\.xz|\.zst)?$/, "").replace(/-/g, "_"), path);
    }
  };
  walk(join(kernel.modulesDir, "kernel"));
  return files;
}

/** A module file's bytes, decompressed. */
function moduleBytes(path: string): Buffer {
  if (path.endsWith(".xz")) return execFileSync(which("xz"), ["-dc", path], { maxBuffer: 64 << 20 });
  if (path.endsWith(".zst")) return execFileSync(which("zstd"), ["-dc", path], { maxBuffer: 64 << 20 });
  return readFileSync(path);
}

/** The `depends=` entry of a module's .modinfo section (what modinfo -F depends prints), read from its bytes. */
function dependsOf(module: Buffer): string[] {
  const start = module.indexOf("\0depends=");
  if (start === -1) return [];
  const end = module.indexOf(0, start + 1);
  return module
    .subarray(start + "\0depends=".length, end)
    .toString("latin1")
    .split(",")
    .filter((d) => d !== "");
}

/** `wanted` and their dependencies, each after what it depends on. */
export function moduleLoadOrder(kernel: Kernel, wanted: readonly string[]): { name: string; path: string }[] {
  const files = moduleFiles(kernel);
  const order: { name: string; path: string }[] = [];
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    const path = files.get(name);
    if (path === undefined) return; // built into this kernel
    for (const dep of dependsOf(moduleBytes(path))) visit(dep.replace(/-/g, "_"));
    order.push({ name, path });
  };
  for (const name of wanted) visit(name);
  return order;
}

export interface InitramfsOptions {
  /** Loaded by /init with insmod, each after its dependencies. */
  readonly modules: readonly string[];
  /**
   * Left for `modprobe` (the agent's module loading): installed under /lib/modules/<release>/ with a depmod index
   * instead of being loaded. Their dependencies are among `modules`.
   */
  readonly modprobeModules?: readonly string[];
  readonly init: string;
  readonly files?: Readonly<Record<string, string | Buffer>>;
}

/**
 * A gzipped newc initramfs: busybox, the modules (decompressed), /init, and any extra files. Beside it, NODE_ROOT:
 * a merged-/usr root like a Debian node's (bin, sbin, lib64 and the libraries point into usr/), where the host's
 * /usr is mounted when the guest runs Node; /init chroots there to run the host's setup script.
 */
export function buildInitramfs(kernel: Kernel, options: InitramfsOptions): string {
  const work = scratchDir("lastgasp-initramfs-");
  const root = join(work, "root");
  for (const dir of ["bin", "dev", "proc", "sys", "mnt", "mods", "tmp"])
    mkdirSync(join(root, dir), { recursive: true });
  const nodeRoot = join(root, NODE_ROOT);
  for (const dir of ["usr", "dev", "proc", "sys", "tmp", "lib/modules", GUEST_CONTROL.slice(1)])
    mkdirSync(join(nodeRoot, dir), { recursive: true });
  for (const [link, target] of [
    ["bin", "usr/bin"],
    ["sbin", "usr/sbin"],
    ["lib64", "usr/lib64"],
    ["lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu"],
  ] as const)
    symlinkSync(target, join(nodeRoot, link));
  copyFileSync(which("busybox"), join(root, "bin", "busybox"));
  chmodSync(join(root, "bin", "busybox"), 0o755);
  const order = moduleLoadOrder(kernel, options.modules);
  for (const { name, path } of order) {
    writeFileSync(join(root, "mods", `${name}.ko`), moduleBytes(path));
  }
  writeFileSync(join(root, "mods", "order"), `${order.map((m) => m.name).join("\n")}\n`);
  installForModprobe(kernel, nodeRoot, options.modprobeModules ?? []);
  writeFileSync(join(root, "init"), options.init, { mode: 0o755 });
  for (const [path, content] of Object.entries(options.files ?? {}))
    writeFileSync(join(root, path), content, { mode: 0o755 });
  const initrd = join(work, "initrd.gz");
  execFileSync("sh", ["-c", `cd '${root}' && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1 > '${initrd}'`]);
  return initrd;
}

/** Puts the modules where modprobe looks (/lib/modules/<release>/kernel/…) and indexes them with the host's depmod. */
function installForModprobe(kernel: Kernel, root: string, modules: readonly string[]): void {
  if (modules.length === 0) return;
  const files = moduleFiles(kernel);
  const dir = join(root, "lib", "modules", kernel.release);
  for (const name of modules) {
    const path = files.get(name);
    if (path === undefined) throw new Error(`${kernel.release} has no module ${name}`);
    const target = join(dir, relative(kernel.modulesDir, path).replace(/\.(xz|zst)$/, ""));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, moduleBytes(path));
  }
  for (const index of ["modules.builtin", "modules.builtin.modinfo", "modules.order"])
    if (existsSync(join(kernel.modulesDir, index))) copyFileSync(join(kernel.modulesDir, index), join(dir, index));
  execFileSync(which("depmod"), ["-b", root, kernel.release]);
}

/** An empty 32 MiB raw disk image for the guest to format (the hung-task scenario freezes it). */
export function scratchDisk(): string {
  const path = join(scratchDir("lastgasp-disk-"), "disk.img");
  writeFileSync(path, "");
  truncateSync(path, 32 << 20);
  return path;
}

/** How the guest's netconsole is set up before its scenario. */
export type GuestSetup =
  /** /init writes one target through configfs itself, from the lg.* parameters. */
  | { readonly kind: "init"; readonly netconsole: GuestNetconsole }
  /**
   * /init runs `setup.sh` from the control share in NODE_ROOT (the host writes it: e.g. the real agent), its
   * output in setup.log and its exit status in setup.exit there; netconsole is whatever the script makes of it.
   */
  | { readonly kind: "script" };

/** The kernel command line's lastgasp parameters, read by GUEST_INIT. */
export function guestParameters(
  net: GuestNetwork,
  setup: GuestSetup,
  scenario: string,
  options: { shares?: readonly Share[]; hold?: boolean } = {},
): string {
  const params = [
    `lg.ip=${net.guestIp}/${net.prefix}`,
    `lg.rip=${net.receiverIp}`,
    `lg.rport=${net.receiverPort}`,
    `lg.rmac=${net.receiverMac}`,
    `lg.setup=${setup.kind}`,
    `lg.scenario=${scenario}`,
    `lg.hold=${options.hold === true ? 1 : 0}`,
    `lg.shares=${(options.shares ?? []).map((s) => `${s.tag}:${s.guestPath}:${s.writable === true ? "rw" : "ro"}`).join(",")}`,
  ];
  if (setup.kind === "init") {
    const nc = setup.netconsole;
    params.push(
      `lg.extended=${nc.extended ? 1 : 0}`,
      `lg.release=${nc.release ? 1 : 0}`,
      `lg.node=${nc.node ?? ""}`,
      `lg.selftest=${nc.selfTest === true ? 1 : 0}`,
    );
  }
  return params.join(" ");
}

/** The node's root in the guest: the host's /usr and the shares are mounted under it; the setup script runs in it. */
export const NODE_ROOT = "/node";
/** Where the control share is in the node's root (the host's side is the test's own directory). */
export const GUEST_CONTROL = "/ctl";

/**
 * The guest's /init: load modules, bring up eth0, mount the 9p shares, set netconsole up (itself through
 * configfs, printing what it wrote and what the kernel refused, or by the host's setup script), optionally wait
 * for the host's go (a file `go` in the control share), then run /scenario.
 */
export const GUEST_INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /mods/order); do insmod /mods/$m.ko || echo "lastgasp-init: insmod $m failed"; done
mount -t configfs none /sys/kernel/config
param() { tr ' ' '\\n' < /proc/cmdline | sed -n "s/^lg\\.$1=//p"; }
ip link set lo up; ip link set eth0 up; ip addr add "$(param ip)" dev eth0
for share in $(param shares | tr , ' '); do
  tag=\${share%%:*}; rest=\${share#*:}; dir=\${rest%:*}; mode=\${rest##*:}
  # Read-only shares do not change under the guest: cache them (Node reads its whole binary from one).
  if [ "$mode" = ro ]; then opts=ro,cache=loose; else opts=rw; fi
  mkdir -p "${NODE_ROOT}$dir"
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,$opts "$tag" "${NODE_ROOT}$dir" || echo "lastgasp-init: cannot mount $tag"
done
ctl=${NODE_ROOT}${GUEST_CONTROL}
run_setup_script() {
  mount -t proc proc ${NODE_ROOT}/proc; mount -t sysfs sys ${NODE_ROOT}/sys; mount -t devtmpfs dev ${NODE_ROOT}/dev
  mount -t configfs none ${NODE_ROOT}/sys/kernel/config
  chroot ${NODE_ROOT} /bin/sh ${GUEST_CONTROL}/setup.sh > $ctl/setup.log 2>&1; echo $? > $ctl/setup.exit
}
configure_netconsole() {
  echo 8 > /proc/sys/kernel/printk
  t=/sys/kernel/config/netconsole/lastgasp
  mkdir $t
  set_attr() { if [ -e "$t/$1" ]; then echo "$2" > "$t/$1" || echo "lastgasp-init: $1 refused"; else echo "lastgasp-init: no $1 on this kernel"; fi; }
  set_attr dev_name eth0
  set_attr local_ip "$(param ip | cut -d/ -f1)"
  set_attr remote_ip "$(param rip)"
  set_attr remote_port "$(param rport)"
  set_attr remote_mac "$(param rmac)"
  [ "$(param extended)" = 1 ] && set_attr extended 1
  [ "$(param release)" = 1 ] && set_attr release 1
  node="$(param node)"
  if [ -n "$node" ]; then
    if [ -d $t/userdata ]; then mkdir $t/userdata/node && echo "$node" > $t/userdata/node/value; else echo "lastgasp-init: no userdata on this kernel"; fi
  fi
  echo 1 > $t/enabled || echo "lastgasp-init: enabled refused"
  echo "lastgasp-init: netconsole enabled=$(cat $t/enabled)"
  if [ "$(param selftest)" = 1 ]; then
    bid=$(cat /proc/sys/kernel/random/boot_id)
    echo "<13>${SELF_TEST_MARKER} node=$node boot_id=$bid" > /dev/kmsg
    echo "$bid" > $ctl/boot_id.tmp && mv $ctl/boot_id.tmp $ctl/boot_id
  fi
}
case "$(param setup)" in
  init) configure_netconsole ;;
  script) run_setup_script ;;
esac
if [ "$(param hold)" = 1 ]; then
  # The host says when: it has seen what the setup did. Never for ever: a guest left alone powers off.
  i=0; while [ ! -e $ctl/go ] && [ $i -lt 1500 ]; do sleep 0.2; i=$((i + 1)); done
  [ -e $ctl/go ] || { echo "lastgasp-init: no go from the host"; poweroff -f; }
fi
echo "lastgasp-init: scenario $(param scenario)"
exec /bin/sh /scenario "$(param scenario)"
`;

/** What each scenario does once netconsole is up: each ends in a real panic. */
export const GUEST_SCENARIOS = `#!/bin/sh
case "$1" in
  sysrq) echo c > /proc/sysrq-trigger ;;
  pstore)
    # First boot: an empty pstore, then a panic (panic=2 and a reset, not a power-off: RAM survives). Next boot:
    # the records the panic left, printed on the console for the host, then off.
    rmmod ramoops
    insmod /mods/ramoops.ko mem_address=${PSTORE_RAM.address} mem_size=${PSTORE_RAM.size} record_size=${PSTORE_RAM.recordSize}
    mount -t pstore pstore /sys/fs/pstore
    if ls /sys/fs/pstore | grep -q .; then
      for f in /sys/fs/pstore/*; do
        echo "${PSTORE_CONSOLE_MARK} begin \${f##*/}"; base64 "$f"; echo "${PSTORE_CONSOLE_MARK} end"
      done
      poweroff -f
    fi
    echo c > /proc/sysrq-trigger ;;
  last-words|last-words-cut)
    # The node agent's scenarios (test/kernel/last-words.test.ts): the setup loaded ramoops. The first boot
    # panics (a reset: RAM and its ramoops region survive), after taking its link down for -cut: netconsole cannot
    # send. The next boot's setup has run the agent over what pstore kept; it powers off.
    mount -t pstore pstore /sys/fs/pstore
    if ls /sys/fs/pstore | grep -q '^dmesg-'; then poweroff -f; fi
    if [ "$1" = last-words-cut ]; then ip link set eth0 down; fi
    echo c > /proc/sysrq-trigger ;;
  oom) sysctl -w vm.panic_on_oom=1; tail /dev/zero ;;
  kill-init) exit 0 ;;
  oops) sysctl -w kernel.panic_on_oops=1; insmod /lastgasp_oops.ko ;;
  hung)
    # A writer blocked on a frozen filesystem sleeps uninterruptibly: the hung task detector reports it after
    # hung_task_timeout_secs and, with hung_task_panic, panics.
    if ! { mke2fs -q /dev/vda && mount -t ext4 /dev/vda /mnt && fsfreeze --freeze /mnt; }; then
      echo "lastgasp-init: could not freeze a filesystem on /dev/vda"; sleep 600
    fi
    sysctl -w kernel.hung_task_timeout_secs=2; sysctl -w kernel.hung_task_panic=1
    echo blocked > /mnt/f &
    sleep 600 ;;
  *) echo "lastgasp-init: unknown scenario $1"; exit 1 ;;
esac
`;

export interface VmOptions {
  readonly kernel: Kernel;
  readonly initrd: string;
  /** Extra kernel command line (lg.* parameters). */
  readonly append: string;
  /** QEMU -netdev argument for the guest's virtio NIC. */
  readonly netdev: string;
  readonly consoleLog: string;
  readonly memoryMiB?: number;
  /** A raw disk image, attached as /dev/vda. */
  readonly disk?: string;
  /** Reboot after a panic instead of powering off: the guest panics again at every boot. */
  readonly reboot?: boolean;
  /** 9p shares (their tags and guest paths also go to guestParameters). */
  readonly shares?: readonly Share[];
  /** Boot with `quiet` (console loglevel 4, as many distributions do) instead of loglevel=8. */
  readonly quiet?: boolean;
  /**
   * A QMP socket at this path, and QEMU's vmcoreinfo device: the guest's memory can be dumped as an ELF core
   * that makedumpfile reads, as kdump's capture kernel would (hack/capture-kdump-fixture.ts).
   */
  readonly qmpSocket?: string;
}

/**
 * Boots the guest. Without `reboot` it exits 2 s after the kernel panics (panic=2 with -no-reboot); with it,
 * it reboots 2 s after each panic until stopped.
 */
export function bootVm(options: VmOptions): ManagedProcess {
  return new ManagedProcess({
    name: `qemu ${basename(options.kernel.vmlinuz)}`,
    command: which("qemu-system-x86_64"),
    args: [
      "-machine",
      "q35,accel=tcg",
      "-cpu",
      "max",
      "-smp",
      "1",
      "-m",
      String(options.memoryMiB ?? (options.shares === undefined ? 256 : 1024)),
      "-kernel",
      options.kernel.vmlinuz,
      "-initrd",
      options.initrd,
      "-append",
      // panic=2, not -1: a kernel that reboots at once after the panic can lose the tail of its report in the
      // NIC's queue (seen with 6.12 here: the panic line never left). -no-reboot then powers the guest off.
      `console=ttyS0 ${options.quiet === true ? "quiet" : "loglevel=8"} panic=2 ${options.append}`,
      "-netdev",
      options.netdev,
      "-device",
      "virtio-net-pci,netdev=n0",
      "-display",
      "none",
      "-serial",
      `file:${options.consoleLog}`,
      ...(options.disk === undefined ? [] : ["-drive", `file=${options.disk},format=raw,if=virtio`]),
      ...(options.shares ?? []).flatMap((share) => ["-virtfs", virtfs(share)]),
      ...(options.reboot === true ? [] : ["-no-reboot"]),
      ...(options.qmpSocket === undefined
        ? []
        : ["-qmp", `unix:${options.qmpSocket},server=on,wait=off`, "-device", "vmcoreinfo"]),
    ],
    logFile: `${options.consoleLog}.qemu`,
  });
}

function virtfs(share: Share): string {
  const mode = share.writable === true ? [] : ["readonly=on"];
  // security_model=none: the guest sees the host's owners and modes (QEMU runs as root here).
  return [
    "local",
    `path=${share.hostPath}`,
    `mount_tag=${share.tag}`,
    "security_model=none",
    "multidevs=remap",
    ...mode,
  ].join(",");
}

/** Build products of this process (initramfs trees, scratch disks): removed when it exits, whatever the outcome. */
const scratchDirs = new Set<string>();

function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (scratchDirs.size === 0)
    process.once("exit", () => {
      for (const each of scratchDirs) rmSync(each, { recursive: true, force: true });
    });
  scratchDirs.add(dir);
  return dir;
}
