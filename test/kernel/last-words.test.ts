// Panics netconsole did not carry, recovered by the real agent on a real kernel (docs/last-words.md). A 6.12 guest
// with ramoops runs `lastgasp agent --once` at every boot (the chart's agent ServiceAccount, RBAC and admission
// policy on the API server; a token bound to an agent pod on the guest's Node), panics, resets with its RAM kept,
// and in the next boot the agent reads what pstore kept.
// - Netconsole working: the receiver records the panic and the reconciler remediates; after the reboot the
//   agent's pstore copy is folded into that event (confirmedBy pstore): one event, not two.
// - Netconsole cut (the link taken down just before the panic: netpoll cannot send): nothing is heard; after the
//   reboot the agent records it from pstore with the same reason, cause and signature as the working case's
//   netconsole event, and nothing is remediated for it: its Node and pods are left alone.
import { CoreV1Api } from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { KernelPanicEvent } from "../../operator/api/kernelpanicevent.ts";
import type { Guest } from "../harness/guests.ts";
import { assertRemediated, eventFrom, startKernelTier, type KernelTier } from "../harness/kernel-tier.ts";
import { KERNEL_6_12 } from "../harness/kernels.ts";
import { bootLastWordsGuest, giveAgentToken, installAgentAccess } from "../harness/last-words-guest.ts";
import { listKernelPanicEvents } from "../harness/receiver.ts";
import { waitFor } from "../harness/wait.ts";
import { createNodeWithPods, podsOn } from "../harness/workloads.ts";

let tier: KernelTier;
/** The working case's netconsole event: what the cut case's recovered event must match. */
let heard: KernelPanicEvent | undefined;

before(async () => {
  tier = await startKernelTier([], { apiServerOnTap: true });
  await installAgentAccess(tier.kc);
});
after(async () => {
  await tier.stop();
});

/** The agent's report of what the node kept, from its log lines (one per boot). */
function recoveries(guest: Guest): { created: number; known: number; failed: number; logs: number }[] {
  return readFileSync(join(guest.control, "agent.log"), "utf8")
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { message: string; created: number; known: number; failed: number; logs: number })
    .filter((l) => l.message === "Read the kernel logs this node kept");
}

/** Gives the agent its token for the boot after the panic, waits for that boot to end: one record, reported. */
async function rebootReported(guest: Guest, nodeName: string): Promise<void> {
  await giveAgentToken(tier.kc, guest, nodeName);
  await guest.finished();
  assert.deepEqual(
    recoveries(guest).map((r) => [r.logs, r.created, r.failed]),
    [[1, 1, 0]],
    `the agent's log: ${join(guest.control, "agent.log")}`,
  );
}

async function bootAndPanic(scenario: "last-words" | "last-words-cut", node: { name: string; ip: string }) {
  const guest = bootLastWordsGuest(tier.net, { kernel: KERNEL_6_12, node, scenario, receiverPort: tier.port }, [
    `${tier.net.hostIp}:${tier.port}`,
  ]);
  const setup = await guest.setupDone();
  assert.equal(setup.status, 0, `the guest's setup failed (${guest.diagnosis}):\n${setup.log}`);
  // The first boot has no credentials yet (nothing kept to report): the agent says so and configures netconsole.
  assert.deepEqual(recoveries(guest), []);
  assert.ok(readFileSync(join(guest.control, "agent.log"), "utf8").includes("Cannot report panics kept in pstore"));
  guest.go();
  return guest;
}

describe("the real agent records a panic pstore kept, on a real 6.12 kernel", () => {
  it("with netconsole working: one event, netconsole's, confirmed by pstore after the reboot", async () => {
    const node = { name: "vm-words-heard", ip: "10.203.0.60" };
    const kubelet = await tier.plane.startKubelets(node.name);
    await createNodeWithPods(
      tier.kc,
      { namespace: node.name, nodeName: node.name, ip: node.ip, kubelets: node.name },
      2,
    );
    const guest = await bootAndPanic("last-words", node);
    try {
      // The guest is the node: its kubelet (kwok, standing in) stops with it.
      await kubelet.stop();
      heard = await eventFrom(tier.kc, node.ip, guest.diagnosis);
      assert.equal(heard.spec.source, undefined, "netconsole's");
      await assertRemediated(tier.kc, heard, node.name);
      // The node registers again after its reboot; the agent's pod comes back with a token bound to it.
      await tier.plane.startKubelets(`${node.name}-boot2`);
      await createNodeWithPods(
        tier.kc,
        { namespace: `${node.name}-2`, nodeName: node.name, ip: node.ip, kubelets: `${node.name}-boot2` },
        0,
      );
      await rebootReported(guest, node.name);
      const confirmed = await waitFor(
        async () => {
          const events = await listKernelPanicEvents(tier.kc);
          const mine = events.filter((e) => e.spec.hostIP === node.ip || e.spec.nodeName === node.name);
          return mine.length === 1 && mine[0]!.status?.confirmedBy?.includes("pstore") === true ? mine : undefined;
        },
        { what: `one event for ${node.name}, confirmed by pstore`, timeoutMs: 30_000 },
      );
      assert.equal(confirmed[0]!.metadata.name, heard.metadata.name);
    } finally {
      await guest.vm.stop();
    }
  });

  it("with netconsole cut: recorded after the reboot from pstore, netconsole's reason, cause and signature; nothing remediated", async () => {
    assert.ok(heard !== undefined, "the working case ran first");
    const node = { name: "vm-words-lost", ip: "10.203.0.61" };
    await createNodeWithPods(tier.kc, { namespace: node.name, nodeName: node.name, ip: node.ip }, 2);
    const before = (await podsOn(tier.kc, node.name)).map((p) => p.metadata?.uid).sort();
    const guest = await bootAndPanic("last-words-cut", node);
    try {
      await rebootReported(guest, node.name);
      const recovered = await waitFor(
        async () =>
          (await listKernelPanicEvents(tier.kc)).find(
            (e) =>
              e.spec.nodeName === node.name &&
              e.status?.conditions?.some((c) => c.type === "Remediated" && c.reason === "Recovered"),
          ),
        { what: `the recovered event of ${node.name}`, timeoutMs: 30_000 },
      );
      assert.equal(recovered.spec.source, "pstore");
      assert.equal(recovered.spec.hostIP, node.ip);
      assert.equal(recovered.spec.reason, "sysrq triggered crash");
      assert.equal(recovered.spec.reason, heard.spec.reason);
      assert.equal(recovered.spec.cause, heard.spec.cause);
      assert.deepEqual(recovered.spec.signature, heard.spec.signature);
      // Nothing netconsole carried: the only event of this node is the recovered one.
      const mine = (await listKernelPanicEvents(tier.kc)).filter(
        (e) => e.spec.hostIP === node.ip || e.spec.nodeName === node.name,
      );
      assert.deepEqual(
        mine.map((e) => e.metadata.name),
        [recovered.metadata.name],
      );
      // Nothing remediated: the Node is there, uncordoned, and its pods are the same, running.
      const kept = await tier.kc.makeApiClient(CoreV1Api).readNode({ name: node.name });
      assert.notEqual(kept.spec?.unschedulable, true);
      const pods = (await podsOn(tier.kc, node.name)).filter((p) => p.metadata?.namespace === node.name);
      assert.deepEqual(pods.map((p) => p.metadata?.uid).sort(), before);
      assert.ok(pods.every((p) => p.status?.phase === "Running" && p.metadata?.deletionTimestamp === undefined));
    } finally {
      await guest.vm.stop();
    }
  });
});
