// Real kernels in the loop: Debian kernels boot in QEMU guests with addresses of their own on a tap device, their
// netconsole configured through the real configfs, and panic for real (sysrq, OOM with vm.panic_on_oom, init
// exiting). The receiver hears them from the guest's own address, records each as a KernelPanicEvent with the
// exact reason and cause, and the reconciler fails and deletes the pods of the Node with that address, then the
// Node. Runs inside hack/in-netns.sh (npm run test:kernel): the control plane, lastgasp and the guests share a
// network namespace that nothing leaves.
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { KernelPanicEvent } from "../../operator/api/kernelpanicevent.ts";
import { LABELS } from "../../operator/api/keys.ts";
import type { Reconciler } from "../../operator/reconciler/reconciler.ts";
import type { Receiver } from "../../operator/receiver/receiver.ts";
import { ControlPlane } from "../harness/controlplane.ts";
import { ensureKernel, KERNEL_6_1, KERNEL_6_12, type KernelSpec } from "../harness/kernels.ts";
import { listKernelPanicEvents, startTestReceiver } from "../harness/receiver.ts";
import { startTestReconciler } from "../harness/reconciler.ts";
import {
  BASE_MODULES,
  bootVm,
  buildInitramfs,
  DISK_MODULES,
  GUEST_INIT,
  GUEST_SCENARIOS,
  guestParameters,
  scratchDisk,
} from "../harness/vm.ts";
import { waitFor } from "../harness/wait.ts";
import { createNodeWithPods, podsOn } from "../harness/workloads.ts";

const tap = process.env.LASTGASP_VM_TAP;
const hostIp = process.env.LASTGASP_VM_HOST_IP ?? "";
if (tap === undefined)
  throw new Error(
    "the real-kernel tier runs inside its network namespace: use `npm run test:kernel` (hack/in-netns.sh)",
  );

/** A guest that does not panic and power off within this long has failed (TCG boots in ~10 s here). */
const GUEST_TIMEOUT_MS = 120_000;

interface Case {
  readonly scenario: "sysrq" | "oom" | "kill-init" | "hung";
  readonly kernel: KernelSpec;
  readonly extended: boolean;
  readonly reason: RegExp;
  readonly cause?: RegExp;
}

const cases: Case[] = [
  {
    scenario: "sysrq",
    kernel: KERNEL_6_12,
    extended: true,
    reason: /^sysrq triggered crash$/,
    cause: /^sysrq: Trigger a crash$/,
  },
  {
    scenario: "oom",
    kernel: KERNEL_6_1,
    extended: true,
    reason: /^Out of memory: system-wide panic_on_oom is enabled$/,
    cause: /invoked oom-killer: gfp_mask=/,
  },
  { scenario: "kill-init", kernel: KERNEL_6_12, extended: false, reason: /^Attempted to kill init! exitcode=0x/ },
  {
    scenario: "hung",
    kernel: KERNEL_6_12,
    extended: true,
    reason: /^hung_task: blocked tasks$/,
    cause: /^INFO: task sh:\d+ blocked for more than 2 seconds\.$/,
  },
];

let plane: ControlPlane;
let kc: KubeConfig;
let receiver: Receiver;
let port: number;
let reconciler: Reconciler;
const logs = mkdtempSync(join(tmpdir(), "lastgasp-vm-"));

before(async () => {
  plane = await ControlPlane.start({ kwok: true });
  kc = plane.adminKubeConfig();
  ({ receiver } = await startTestReceiver(kc, ["--listen", `${hostIp}:0`]));
  port = receiver.udpPorts[0]!;
  reconciler = await startTestReconciler(kc, ["--leader-elect", "false", "--storm-max-percent", "100"]);
});
after(async () => {
  await reconciler.stop();
  await receiver.stop();
  await plane.stop();
});

function tapMac(): string {
  const [link] = JSON.parse(execFileSync("ip", ["-j", "link", "show", "dev", tap!], { encoding: "utf8" })) as [
    { address: string },
  ];
  return link.address;
}

/** Boots a guest that is `node` on the tap and runs `c`'s scenario. */
function bootGuest(
  c: Pick<Case, "scenario" | "kernel" | "extended">,
  node: { name: string; ip: string },
  options: { reboot?: boolean } = {},
) {
  const kernel = ensureKernel(c.kernel);
  const hung = c.scenario === "hung";
  const initrd = buildInitramfs(kernel, {
    modules: hung ? [...BASE_MODULES, ...DISK_MODULES] : BASE_MODULES,
    init: GUEST_INIT,
    files: { scenario: GUEST_SCENARIOS },
  });
  const consoleLog = join(logs, `${node.name}.console`);
  const vm = bootVm({
    kernel,
    initrd,
    consoleLog,
    append: guestParameters(
      { guestIp: node.ip, prefix: 24, receiverIp: hostIp, receiverPort: port, receiverMac: tapMac() },
      { extended: c.extended, release: c.extended, node: node.name },
      c.scenario,
    ),
    netdev: `tap,id=n0,ifname=${tap},script=no,downscript=no`,
    ...(hung ? { disk: scratchDisk() } : {}),
    ...(options.reboot === true ? { reboot: true } : {}),
  });
  return { vm, consoleLog, kernel };
}

async function eventFor(ip: string): Promise<KernelPanicEvent> {
  return waitFor(async () => (await listKernelPanicEvents(kc)).find((e) => e.spec.hostIP === ip), {
    what: `a KernelPanicEvent from ${ip}`,
    timeoutMs: 15_000,
  });
}

describe("real kernels panic in QEMU guests, and lastgasp hears and acts", () => {
  for (const [i, c] of cases.entries()) {
    it(`${c.scenario} on ${c.kernel.package} (${c.extended ? "extended" : "plain"})`, async () => {
      const kernel = ensureKernel(c.kernel);
      const node = { name: `vm-${c.scenario}`, ip: `10.203.0.${10 + i}` };
      const kubelet = await plane.startKubelets(node.name);
      await createNodeWithPods(kc, { namespace: node.name, nodeName: node.name, ip: node.ip, kubelets: node.name }, 3);
      const { vm, consoleLog } = bootGuest(c, node);
      // The guest is the node: its kubelet (kwok, standing in) stops with it.
      await kubelet.stop();
      const timer = setTimeout(() => void vm.stop(), GUEST_TIMEOUT_MS);
      await vm.exited;
      clearTimeout(timer);
      const event = await eventFor(node.ip).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}; the guest's console is in ${consoleLog}`);
      });
      assert.match(event.spec.reason, c.reason);
      if (c.cause === undefined) assert.equal(event.spec.cause, undefined);
      else {
        assert.match(event.spec.cause ?? "", c.cause);
        assert.equal(event.spec.contextLines[0], event.spec.cause, "the context starts at the report's header");
      }
      if (c.extended && c.kernel === KERNEL_6_12) {
        assert.equal(event.spec.release, kernel.release);
        assert.deepEqual(event.spec.userdata, { node: node.name });
      }
      await waitFor(
        async () =>
          (await listKernelPanicEvents(kc))
            .find((e) => e.metadata.name === event.metadata.name)
            ?.status?.conditions?.some((cond) => cond.type === "Remediated" && cond.status === "True"),
        { what: `${node.name} remediated`, timeoutMs: 60_000 },
      );
      assert.equal((await podsOn(kc, node.name)).length, 0);
      await assert.rejects(
        kc.makeApiClient(CoreV1Api).readNode({ name: node.name }),
        (err: { code?: number }) => err.code === 404,
      );
    });
  }

  it("a guest that panics, reboots and panics again gives exactly two events, one per boot", async () => {
    // Excluded: the node stays (NodeExcluded), so that its second boot's panic still comes from a Node's address.
    const node = { name: "vm-reboot", ip: "10.203.0.30" };
    await kc.makeApiClient(CoreV1Api).createNode({
      body: {
        metadata: { name: node.name, labels: { [LABELS.exclude]: "true" } },
        status: { addresses: [{ type: "InternalIP", address: node.ip }] },
      },
    });
    const { vm, consoleLog } = bootGuest({ scenario: "sysrq", kernel: KERNEL_6_12, extended: true }, node, {
      reboot: true,
    });
    try {
      const events = await waitFor(
        async () => {
          const mine = (await listKernelPanicEvents(kc)).filter((e) => e.spec.hostIP === node.ip);
          return mine.length >= 2 ? mine : undefined;
        },
        { what: `two panics from the rebooting guest (console: ${consoleLog})`, timeoutMs: GUEST_TIMEOUT_MS },
      );
      assert.equal(new Set(events.map((e) => e.spec.uptimeSeconds)).size, 2, "two boots, two panics");
    } finally {
      await vm.stop();
    }
    // Nothing more once the guest is gone and every write is done: the boot chatter made no event.
    await waitFor(async () => (await receiver.metrics.pendingWrites.get()).values[0]?.value === 0, {
      what: "the receiver's writes done",
    });
    assert.equal((await listKernelPanicEvents(kc)).filter((e) => e.spec.hostIP === node.ip).length, 2);
  });
});
