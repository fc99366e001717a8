// Boots real Debian kernels in QEMU guests, has each panic in a few real ways, and saves the netconsole datagrams
// the host received (bytes, arrival offsets) as fixtures under test/fixtures/real-kernels/. The unit tests replay
// them byte for byte, so the fast tier runs on what real kernels send, not only on our encoder's output.
//
//   node hack/capture-kernel-fixtures.ts            (all; ~2 minutes on 2 cores without KVM)
//
// The guest uses QEMU's user networking here: the host receives on 127.0.0.1 from 127.0.0.1 (QEMU rewrites the
// source), which does not matter for what is captured (the payload). Faithful source addresses are the VM
// tier's business (test/harness/vm.ts with a tap device in a network namespace).
import { createSocket } from "node:dgram";
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureKernel, KERNEL_6_1, KERNEL_6_12, type KernelSpec } from "../test/harness/kernels.ts";
import {
  BASE_MODULES,
  bootVm,
  DISK_MODULES,
  scratchDisk,
  buildInitramfs,
  GUEST_INIT,
  GUEST_SCENARIOS,
  guestParameters,
} from "../test/harness/vm.ts";

const out = fileURLToPath(new URL("../test/fixtures/real-kernels/", import.meta.url));
/** QEMU user networking: the host as the guest sees it. */
const USER_NET = { guestIp: "10.0.2.15", prefix: 24, receiverIp: "10.0.2.2", receiverMac: "52:55:0a:00:02:02" };
const BOOT_TIMEOUT_MS = 120_000;

interface Capture {
  readonly kernel: KernelSpec;
  readonly scenario: "sysrq" | "oom" | "kill-init" | "hung";
  readonly extended: boolean;
}

const captures: Capture[] = [
  ...(["sysrq", "oom", "kill-init", "hung"] as const).flatMap((scenario) => [
    { kernel: KERNEL_6_1, scenario, extended: true },
    { kernel: KERNEL_6_12, scenario, extended: true },
  ]),
  { kernel: KERNEL_6_1, scenario: "sysrq", extended: false },
  { kernel: KERNEL_6_12, scenario: "oom", extended: false },
];

async function capture(c: Capture): Promise<string> {
  const kernel = ensureKernel(c.kernel);
  const initrd = buildInitramfs(kernel, {
    modules: c.scenario === "hung" ? [...BASE_MODULES, ...DISK_MODULES] : BASE_MODULES,
    init: GUEST_INIT,
    files: { scenario: GUEST_SCENARIOS },
  });
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind({ address: "127.0.0.1", port: 0 }, resolve));
  const datagrams: { offsetMs: number; base64: string }[] = [];
  let first: number | undefined;
  socket.on("message", (message) => {
    first ??= performance.now();
    datagrams.push({ offsetMs: Math.round(performance.now() - first), base64: message.toString("base64") });
  });
  const name = `${kernel.release}-${c.scenario}-${c.extended ? "extended" : "plain"}`;
  const vm = bootVm({
    kernel,
    initrd,
    consoleLog: join(tmpdir(), `${name}.console`),
    append: guestParameters(
      { ...USER_NET, receiverPort: socket.address().port },
      { kind: "init", netconsole: { extended: c.extended, release: c.extended, node: "vm1" } },
      c.scenario,
    ),
    netdev: "user,id=n0",
    ...(c.scenario === "hung" ? { disk: scratchDisk() } : {}),
  });
  const timer = setTimeout(() => void vm.stop(), BOOT_TIMEOUT_MS);
  await vm.exited;
  clearTimeout(timer);
  await new Promise((resolve) => setTimeout(resolve, 300)); // the last datagrams in flight
  socket.close();
  const fixture = {
    kernel: { package: c.kernel.package, version: c.kernel.version, release: kernel.release },
    scenario: c.scenario,
    netconsole: { extended: c.extended, release: c.extended, userdata: { node: "vm1" } },
    note: "Received by the host from a QEMU guest (user networking): payloads exactly as sent, arrival offsets from the first.",
    datagrams,
  };
  writeFileSync(join(out, `${name}.json`), `${JSON.stringify(fixture, null, 1)}\n`);
  return `${name}: ${datagrams.length} datagrams`;
}

mkdirSync(out, { recursive: true });
// Arguments select captures by name part, e.g. `hung` or `6.12`.
const only = process.argv.slice(2);
for (const c of captures) {
  const name = `${c.kernel.package} ${c.scenario} ${c.extended ? "extended" : "plain"}`;
  if (only.every((o) => name.includes(o))) console.log(await capture(c));
}
