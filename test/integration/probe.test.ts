// The probe against real sockets and a real control plane (issue 18). Nodes' kubelet ports: a dead node's address
// in a network namespace this test creates, which answered the baseline and then gives SYNs no answer at all; live
// nodes on loopback, one refusing (nothing listens: a reset), one accepting; a node the probe never reached
// (an address nobody holds: no baseline). Their kubelets are kwok's, renewing Leases until killed.
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { after, before, describe, it } from "node:test";
import { GROUP, PLURAL, VERSION, type KernelPanicEvent } from "../../operator/api/kernelpanicevent.ts";
import type { Reconciler } from "../../operator/reconciler/loop/controller.ts";
import { toKernelPanicEvent } from "../../operator/receiver/main/event.ts";
import type { ControlPlane } from "../harness/controlplane.ts";
import { privateControlPlane } from "../harness/private-plane.ts";
import { hostLink, skipUnlessNetns, type HostLink } from "../harness/netns.ts";
import { freePort } from "../harness/ports.ts";
import type { ManagedProcess } from "../harness/processes.ts";
import { startTestReconciler } from "../harness/reconciler.ts";
import { waitFor } from "../harness/wait.ts";
import { createKernelPanicEvent } from "../harness/receiver.ts";
import { createNodeWithPods, nodeExists, podsOn, setNodeBootID } from "../harness/workloads.ts";

const skip = await skipUnlessNetns();
const PODS = 3;
const DEAD_BOOT = "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e";

describe("probe: corroborating a panic in about a second", { skip }, () => {
  let plane: ControlPlane;
  let kc: KubeConfig;
  let link: HostLink;
  let listener: Server;
  let reconciler: Reconciler;
  let doomed: ManagedProcess;
  const ips = { dead: "", walled: "", refusing: "127.0.0.150", accepting: "127.0.0.151" };

  const own = privateControlPlane(
    "its nodes' kubelets share one port, which the probe reaches in a network namespace",
    { kwok: true },
  );
  before(async () => {
    plane = await own.ready;
    kc = plane.adminKubeConfig();
    link = await hostLink();
    ips.dead = await link.add(1);
    ips.walled = link.address(2); // never added: nothing there answers, not even ARP
    const kubeletPort = await freePort();
    listener = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => listener.listen(kubeletPort, ips.accepting, resolve));
    doomed = await plane.startKubelets("probe-doomed", kubeletPort);
    await plane.startKubelets("probe-live", kubeletPort);
    await createNodeWithPods(
      kc,
      { namespace: "probe", nodeName: "dead", ip: ips.dead, kubelets: "probe-doomed" },
      PODS,
    );
    // Set once kwok has initialised the node (it would write its own over an earlier one), as a kubelet reports it.
    await setNodeBootID(kc, "dead", DEAD_BOOT);
    for (const name of ["walled", "refusing", "accepting"] as const)
      await createNodeWithPods(kc, { namespace: "probe", nodeName: name, ip: ips[name], kubelets: "probe-live" }, PODS);
    reconciler = await startTestReconciler(kc, [
      "--leader-elect",
      "false",
      "--storm-max-percent",
      "100",
      "--probe-interval-seconds",
      "1",
      // A sweep (spread over 0.8 s) must end within its interval even with silent nodes in it: an overrunning
      // sweep skips the next, and an answer counts for two intervals only.
      "--probe-timeout-ms",
      "150",
    ]);
    // dead, refusing and accepting answered a sweep; walled never does.
    await waitFor(async () => (await reconciler.metrics.probeBaselineNodes.get()).values[0]?.value === 3, {
      what: "a probe baseline for three nodes",
      timeoutMs: 30_000,
    });
  });
  after(async () => {
    await reconciler?.stop();
    await new Promise((resolve) => listener?.close(resolve));
    await link?.remove();
    await own.stop();
  });

  it("a dead node (silent after a reachable baseline, controls answering, its panic continuing its stream) is remediated without the Lease wait", async () => {
    // A sweep that began now and found all three answering: the baseline is as fresh as a running reconciler's.
    const sweeps = (await reconciler.metrics.probeSweeps.get()).values[0]?.value ?? 0;
    await waitFor(
      async () =>
        ((await reconciler.metrics.probeSweeps.get()).values[0]?.value ?? 0) >= sweeps + 2 &&
        (await reconciler.metrics.probeBaselineNodes.get()).values[0]?.value === 3,
      { what: "a fresh probe baseline for three nodes", timeoutMs: 30_000 },
    );
    doomed.killNow();
    await link.silence(1);
    // What the receiver records of a panic that continued the node's stream anchored by its agent's self-test.
    const recorded = panic(ips.dead);
    const stream = { continuity: "Continuous", node: "dead", bootID: DEAD_BOOT, previousSequence: 4000 } as const;
    const name = await createKernelPanicEvent(kc, { ...recorded, spec: { ...recorded.spec, stream } });
    // Remediated on the probe's word: a wait for the Lease would be a failure (its message says why the probe could not tell).
    const event = await waitForReason(name, "Remediated", ["Remediated", "WaitingForLease"], 20_000);
    assert.equal(condition(event, "Remediated")?.reason, "Remediated", condition(event, "Remediated")?.message);
    const evidence = condition(event, "Corroborated");
    assert.equal(evidence?.status, "True");
    assert.equal(evidence?.reason, "ProbeSilent", evidence?.message);
    assert.match(evidence?.message ?? "", /answered the reconciler's probes before the panic and gave no answer/);
    assert.equal(await nodeExists(kc, "dead"), false);
  });

  for (const live of [
    { name: "refusing", how: /refused \(a reset from its TCP stack\)/ },
    { name: "accepting", how: /accepted the reconciler's TCP connect/ },
  ] as const)
    it(`a forged panic about a live node whose port ${live.name === "refusing" ? "refuses" : "accepts"} is refused at once, then confirmed by its Lease`, async () => {
      const name = await createKernelPanicEvent(kc, panic(ips[live.name]));
      // Refused by the probe: the Lease could not have decided yet (it is watched for 15 s).
      const refused = await waitForReason(name, "Remediated", ["NodeAlive"], 5_000);
      assert.match(condition(refused, "Remediated")?.message ?? "", live.how);
      assert.equal(condition(refused, "Corroborated")?.reason, "ProbeAnswered");
      await assertUntouched(live.name);
      const confirmed = await waitForReason(name, "Corroborated", ["LeaseRenewed"], 40_000);
      assert.equal(condition(confirmed, "Remediated")?.reason, "NodeAlive");
      await assertUntouched(live.name);
    });

  it("a node the probe never reached (kubelet port closed to it) but alive per its Lease: the Lease decides", async () => {
    const name = await createKernelPanicEvent(kc, panic(ips.walled));
    const waiting = await waitForReason(name, "Remediated", ["WaitingForLease"], 5_000);
    assert.match(
      condition(waiting, "Remediated")?.message ?? "",
      /The probe could not tell: .* has not answered a probe/,
    );
    const refused = await waitForReason(name, "Remediated", ["NodeAlive"], 40_000);
    assert.match(condition(refused, "Remediated")?.message ?? "", /Lease changed while it was watched/);
    assert.equal(condition(refused, "Corroborated")?.reason, "LeaseRenewed");
    await assertUntouched("walled");
  });

  function panic(hostIP: string): KernelPanicEvent {
    return toKernelPanicEvent(
      {
        hostIP,
        firstLine: "Kernel panic - not syncing: probe test",
        reason: "probe test",
        contextLines: ["Kernel panic - not syncing: probe test"],
        frames: [],
        detectedAtMs: Date.now(),
        userdata: {},
      },
      "probe-test",
    );
  }

  async function waitForReason(name: string, type: string, reasons: string[], timeoutMs: number) {
    return waitFor(
      async () => {
        const event = (await kc
          .makeApiClient(CustomObjectsApi)
          .getClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name })) as KernelPanicEvent;
        const reason = condition(event, type)?.reason;
        return reason !== undefined && reasons.includes(reason) ? event : undefined;
      },
      { what: `${name} ${type} ${reasons.join("|")}`, timeoutMs },
    );
  }

  async function assertUntouched(node: string): Promise<void> {
    assert.equal(await nodeExists(kc, node), true, `${node} deleted`);
    const running = (await podsOn(kc, node)).filter(
      (p) => p.status?.phase === "Running" && !p.metadata?.deletionTimestamp,
    );
    assert.equal(running.length, PODS, `${node}'s pods touched`);
  }
});

function condition(event: KernelPanicEvent, type: string) {
  return event.status?.conditions?.find((c) => c.type === type);
}
