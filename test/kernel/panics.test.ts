// Real kernels in the loop: Debian kernels boot in QEMU guests with addresses of their own on a tap device, their
// netconsole configured through the real configfs, and panic for real (sysrq, OOM with vm.panic_on_oom, init
// exiting, a hung task, an oops with panic_on_oops). The receiver hears them from the guest's own address,
// records each as a KernelPanicEvent with the exact reason and cause, and the reconciler fails and deletes the
// pods of the Node with that address, then the Node. Runs inside hack/in-netns.sh (npm run test:kernel): the
// control plane, lastgasp and the guests share a network namespace that nothing leaves.
import { CoreV1Api } from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { LABELS } from "../../operator/api/keys.ts";
import { ensureCrashModule } from "../harness/crash-module.ts";
import { bootGuest, GUEST_TIMEOUT_MS } from "../harness/guests.ts";
import { assertRemediated, eventFrom, startKernelTier, type KernelTier } from "../harness/kernel-tier.ts";
import { KERNEL_6_1, KERNEL_6_12, type KernelSpec } from "../harness/kernels.ts";
import { listKernelPanicEvents } from "../harness/receiver.ts";
import { waitFor } from "../harness/wait.ts";
import { createNodeWithPods } from "../harness/workloads.ts";

interface Case {
  readonly scenario: "sysrq" | "oom" | "kill-init" | "hung" | "oops";
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
  {
    scenario: "oops",
    kernel: KERNEL_6_1,
    extended: true,
    reason: /^Fatal exception$/,
    cause: /^BUG: kernel NULL pointer dereference, address: 0+$/,
  },
];

let tier: KernelTier;

before(async () => {
  tier = await startKernelTier();
});
after(async () => {
  await tier.stop();
});

/** The oops scenario's module in the initramfs, where its scenario loads it. */
function scenarioFiles(scenario: Case["scenario"]): Record<string, Buffer> {
  return scenario === "oops" ? { "lastgasp_oops.ko": readFileSync(ensureCrashModule(KERNEL_6_1)) } : {};
}

describe("real kernels panic in QEMU guests, and lastgasp hears and acts", () => {
  for (const [i, c] of cases.entries()) {
    it(`${c.scenario} on ${c.kernel.package} (${c.extended ? "extended" : "plain"})`, async () => {
      const { kc, plane } = tier;
      const node = { name: `vm-${c.scenario}`, ip: `10.203.0.${10 + i}` };
      const kubelet = await plane.startKubelets(node.name);
      await createNodeWithPods(kc, { namespace: node.name, nodeName: node.name, ip: node.ip, kubelets: node.name }, 3);
      const guest = bootGuest(tier.net, {
        kernel: c.kernel,
        node,
        scenario: c.scenario,
        setup: { kind: "init", netconsole: { extended: c.extended, release: c.extended, node: node.name } },
        receiverPort: tier.port,
        files: scenarioFiles(c.scenario),
      });
      // The guest is the node: its kubelet (kwok, standing in) stops with it.
      await kubelet.stop();
      await guest.finished();
      const event = await eventFrom(kc, node.ip, guest.diagnosis);
      assert.match(event.spec.reason, c.reason);
      if (c.cause === undefined) assert.equal(event.spec.cause, undefined);
      else {
        assert.match(event.spec.cause ?? "", c.cause);
        assert.equal(event.spec.contextLines[0], event.spec.cause, "the context starts at the report's header");
      }
      if (c.extended && c.kernel === KERNEL_6_12) {
        assert.equal(event.spec.release, guest.kernel.release);
        assert.deepEqual(event.spec.userdata, { node: node.name });
      }
      await assertRemediated(kc, event, node.name);
    });
  }

  it("a guest that panics, reboots and panics again gives exactly two events, one per boot", async () => {
    const { kc } = tier;
    // Excluded: the node stays (NodeExcluded), so that its second boot's panic still comes from a Node's address.
    const node = { name: "vm-reboot", ip: "10.203.0.30" };
    await kc.makeApiClient(CoreV1Api).createNode({
      body: {
        metadata: { name: node.name, labels: { [LABELS.exclude]: "true" } },
        status: { addresses: [{ type: "InternalIP", address: node.ip }] },
      },
    });
    const guest = bootGuest(tier.net, {
      kernel: KERNEL_6_12,
      node,
      scenario: "sysrq",
      setup: { kind: "init", netconsole: { extended: true, release: true, node: node.name } },
      receiverPort: tier.port,
      reboot: true,
    });
    try {
      const events = await waitFor(
        async () => {
          const mine = (await listKernelPanicEvents(kc)).filter((e) => e.spec.hostIP === node.ip);
          return mine.length >= 2 ? mine : undefined;
        },
        { what: `two panics from the rebooting guest (${guest.diagnosis})`, timeoutMs: GUEST_TIMEOUT_MS },
      );
      assert.equal(new Set(events.map((e) => e.spec.uptimeSeconds)).size, 2, "two boots, two panics");
    } finally {
      await guest.vm.stop();
    }
    // Nothing more once the guest is gone and every write is done: the boot chatter made no event.
    await waitFor(async () => (await tier.receiver.metrics.pendingWrites.get()).values[0]?.value === 0, {
      what: "the receiver's writes done",
    });
    assert.equal((await listKernelPanicEvents(kc)).filter((e) => e.spec.hostIP === node.ip).length, 2);
  });
});
