// The real node agent on real kernels: `lastgasp agent --once` runs inside a QEMU guest (the project and its
// pinned Node from the host over read-only 9p, the host's Debian userland for iproute2 and kmod, chrooted like a
// node's root), loads netconsole with modprobe, configures the real configfs target towards the receiver on the
// tap, and writes its self-test through the real /dev/kmsg; the receiver marks the Node covered. Then a probe
// runs our kernel model's rules against the real configfs, operation by operation, and the guest panics: the
// event carries what the agent configured (release and node=/boot_id= userdata on 6.12; neither on 6.1, the
// agent's fallback), and the reconciler removes the Node and its pods.
import { CoreV1Api } from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ANNOTATIONS } from "../../operator/api/keys.ts";
import { modelResults, ruleProbes, type ProbeReport } from "../harness/configfs-rules.ts";
import { agentLog, bootAgentGuest, tapMac } from "../harness/guests.ts";
import { assertRemediated, eventFrom, startKernelTier, type KernelTier } from "../harness/kernel-tier.ts";
import { KERNEL_6_1, KERNEL_6_12, type KernelSpec } from "../harness/kernels.ts";
import { GUEST_CONTROL } from "../harness/vm.ts";
import { waitFor } from "../harness/wait.ts";
import { createNodeWithPods } from "../harness/workloads.ts";

interface Case {
  readonly kernel: KernelSpec;
  /** What this kernel's netconsole offers. */
  readonly features: { readonly release: boolean; readonly userdata: boolean };
  /** Booted `quiet` (console loglevel 4): the agent must pick a level the console still sends. */
  readonly quiet: boolean;
}

const cases: Case[] = [
  { kernel: KERNEL_6_12, features: { release: true, userdata: true }, quiet: false },
  { kernel: KERNEL_6_1, features: { release: false, userdata: false }, quiet: true },
];

let tier: KernelTier;

before(async () => {
  tier = await startKernelTier();
});
after(async () => {
  await tier.stop();
});

describe("the real agent configures real netconsole, and its self-test marks the Node covered", () => {
  for (const [i, c] of cases.entries()) {
    it(`on ${c.kernel.package}${c.features.userdata ? "" : " (without release and userdata: the fallback)"}`, async () => {
      const { kc, plane, net } = tier;
      const node = { name: `vm-agent-${i}`, ip: `10.203.0.${40 + i}` };
      const receiver = `${net.hostIp}:${tier.port}`;
      const kubelet = await plane.startKubelets(node.name);
      await createNodeWithPods(kc, { namespace: node.name, nodeName: node.name, ip: node.ip, kubelets: node.name }, 2);
      const probes = ruleProbes({ localIp: node.ip, remoteIp: net.hostIp, remoteMac: tapMac(net.tap) });
      const guest = bootAgentGuest(
        net,
        { kernel: c.kernel, node, scenario: "sysrq", receiverPort: tier.port, quiet: c.quiet },
        [receiver],
        [
          `node_modules/.bin/node test/kernel/guest/configfs-probe.ts ${GUEST_CONTROL}/probes.json ${GUEST_CONTROL}/probes.out.json`,
        ],
      );
      writeFileSync(join(guest.control, "probes.json"), JSON.stringify(probes));
      try {
        const setup = await guest.setupDone();
        assert.equal(setup.status, 0, `the guest's setup failed (${guest.diagnosis}):\n${setup.log}`);

        // The agent: netconsole loaded by modprobe and configured; on 6.1 it says what the kernel lacks.
        const log = agentLog(guest);
        assert.ok(log.some((l) => l.message === "Checked netconsole targets"));
        assert.equal(
          log.some((l) => l.message === "Configured netconsole without what this kernel lacks"),
          !c.features.userdata,
        );
        const report = JSON.parse(readFileSync(join(guest.control, "probes.out.json"), "utf8")) as ProbeReport;
        const target = report.targets.lastgasp;
        assert.ok(target?.enabled, "the agent's target is enabled");
        assert.deepEqual(target.attributes, {
          dev_name: "eth0",
          local_port: "6665",
          remote_port: String(tier.port),
          local_ip: node.ip,
          remote_ip: net.hostIp,
          remote_mac: tapMac(net.tap),
          extended: "1",
          ...(c.features.release ? { release: "1" } : {}),
        });
        assert.deepEqual(Object.keys(target.userdata).sort(), c.features.userdata ? ["boot_id", "node"] : []);

        // The self-test went through the real /dev/kmsg and netconsole: the receiver stamped the Node.
        await waitFor(
          async () =>
            (await kc.makeApiClient(CoreV1Api).readNode({ name: node.name })).metadata?.annotations?.[
              ANNOTATIONS.netconsoleLastSeen
            ],
          { what: `${node.name} marked covered (${guest.diagnosis})`, timeoutMs: 30_000 },
        );

        // Our model of configfs says what the real kernel did, operation by operation.
        assert.deepEqual(report.rules, await modelResults(probes, c.features));
      } finally {
        await kubelet.stop();
        guest.go();
        await guest.finished();
      }

      const event = await eventFrom(kc, node.ip, guest.diagnosis);
      assert.equal(event.spec.reason, "sysrq triggered crash");
      assert.equal(event.spec.cause, "sysrq: Trigger a crash");
      if (c.features.userdata) {
        assert.equal(event.spec.release, guest.kernel.release);
        assert.equal(event.spec.userdata?.node, node.name);
        assert.match(
          event.spec.userdata?.boot_id ?? "",
          /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
        );
      } else {
        assert.equal(event.spec.release, undefined);
        assert.equal(event.spec.userdata?.node, undefined);
      }
      await assertRemediated(kc, event, node.name);
    });
  }
});
