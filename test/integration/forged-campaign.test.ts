// A forged-panic campaign against live nodes: hundreds of KernelPanicEvents (what forged packets become at
// worst, once past every receiver budget) about nodes whose kubelets renew their Leases on schedule, one with a
// correct clock and others whose clocks are seconds ahead or behind. Not one pod or node may be touched, and every
// event must be refused as NodeAlive. Then the forgery guard: the refusals (read back from the events after a
// restart) hold those nodes, so a further panic about one of them waits for a person's approval.
import { CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { KernelPanicEvent } from "../../operator/api/kernelpanicevent.ts";
import { ANNOTATIONS } from "../../operator/api/keys.ts";
import type { Reconciler } from "../../operator/reconciler/loop/controller.ts";
import { toKernelPanicEvent } from "../../operator/receiver/main/event.ts";
import type { ControlPlane } from "../harness/controlplane.ts";
import { privateControlPlane } from "../harness/private-plane.ts";
import type { ManagedProcess } from "../harness/processes.ts";
import { createKernelPanicEvent, listKernelPanicEvents } from "../harness/receiver.ts";
import { GUARDS_LIFTED, startTestReconciler } from "../harness/reconciler.ts";
import { SkewedKubelet } from "../harness/skewed-kubelet.ts";
import { waitFor } from "../harness/wait.ts";
import { createNodeWithPods, podsOn } from "../harness/workloads.ts";

/** kwok's kubelet (correct clock), and kubelets whose clocks are off by these many seconds. */
const SKEWS_SECONDS = [8, 3, -3, -8];
const FORGED_PER_NODE = 50;
const PODS_PER_NODE = 3;

interface LiveNode {
  readonly name: string;
  readonly ip: string;
}

let plane: ControlPlane;
let kc: KubeConfig;
const nodes: LiveNode[] = [{ name: "steady", ip: "127.0.0.170" }];
const skewed: SkewedKubelet[] = [];
let skewedGroup: ManagedProcess;
let podsBefore: Map<string, string[]>;

const own = privateControlPlane(
  "hundreds of refusals: the forgery guard and storm window of later files must not see them",
  { kwok: true },
);
before(async () => {
  plane = await own.ready;
  kc = plane.adminKubeConfig();
  await createNodeWithPods(kc, { namespace: "campaign", ...nodeFields(nodes[0]!) }, PODS_PER_NODE);
  // The skewed nodes start under kwok (so that their pods run), then their own skewed kubelets take over.
  skewedGroup = await plane.startKubelets("skewed");
  for (const [i, skew] of SKEWS_SECONDS.entries()) {
    const node = { name: skew > 0 ? `ahead-${skew}s` : `behind-${-skew}s`, ip: `127.0.0.${171 + i}` };
    nodes.push(node);
    await createNodeWithPods(kc, { namespace: "campaign", ...nodeFields(node), kubelets: "skewed" }, PODS_PER_NODE);
  }
  await skewedGroup.stop();
  for (const [i, skew] of SKEWS_SECONDS.entries()) {
    const kubelet = new SkewedKubelet(kc, nodes[i + 1]!.name, skew * 1000);
    await kubelet.start();
    skewed.push(kubelet);
  }
  podsBefore = new Map(
    await Promise.all(nodes.map(async (n) => [n.name, fingerprint(await podsOn(kc, n.name))] as const)),
  );
});

after(async () => {
  await Promise.all(skewed.map((k) => k.stop()));
  await own.stop();
});

function nodeFields(node: LiveNode): { nodeName: string; ip: string } {
  return { nodeName: node.name, ip: node.ip };
}

/** What would show any touch: identity, version, phase, deletion. */
function fingerprint(pods: V1Pod[]): string[] {
  return pods
    .map(
      (p) => `${p.metadata?.uid}/${p.status?.phase}/${p.metadata?.deletionTimestamp === undefined ? "" : "deleting"}`,
    )
    .sort();
}

/**
 * A forged event about `node`, claiming a detection time `offsetMs` from now (a forger's packet can carry any
 * timing: the receiver's clock, the kubelet's, or neither).
 */
function forged(node: LiveNode, index: number, offsetMs: number): KernelPanicEvent {
  return toKernelPanicEvent(
    {
      hostIP: node.ip,
      firstLine: `Kernel panic - not syncing: forged ${index}`,
      reason: `forged ${index}`,
      contextLines: [`Kernel panic - not syncing: forged ${index}`],
      frames: [],
      detectedAtMs: Date.now() + offsetMs,
      sequence: 1000 + index,
      userdata: { node: node.name },
    },
    "attacker",
  );
}

function create(event: KernelPanicEvent): Promise<string> {
  return createKernelPanicEvent(kc, event);
}

function remediatedReason(event: KernelPanicEvent): string | undefined {
  return event.status?.conditions?.find((c) => c.type === "Remediated")?.reason;
}

async function assertUntouched(): Promise<void> {
  for (const node of nodes) {
    const n = // throws if the node was deleted
      await kc.makeApiClient(CoreV1Api).readNode({ name: node.name });
    assert.notEqual(n.spec?.unschedulable, true, `${node.name} cordoned`);
    assert.equal(n.metadata?.annotations?.[ANNOTATIONS.kernelPanicEvent], undefined, `${node.name} annotated`);
    assert.deepEqual(fingerprint(await podsOn(kc, node.name)), podsBefore.get(node.name), `${node.name}'s pods`);
  }
}

describe("a forged-panic campaign against live nodes with skewed kubelet clocks", () => {
  let reconciler: Reconciler;
  before(async () => {
    // The storm guard wide open and the forgery guard out of the way: every event must race the lease check.
    reconciler = await startTestReconciler(kc, ["--leader-elect", "false", ...GUARDS_LIFTED]);
  });
  after(async () => {
    await reconciler.stop();
  });

  it("refuses every forged event as NodeAlive and touches no node and no pod", async () => {
    const names: string[] = [];
    // Detection times from now to a minute ahead (a time before the node's creation would be refused as
    // NodeCreatedAfterPanic instead, which proves nothing about the lease check).
    const offsets = [0, 500, 2_000, 5_000, 10_000, 12_000, 30_000, 60_000];
    for (let i = 0; i < FORGED_PER_NODE; i++)
      for (const node of nodes) names.push(await create(forged(node, i, offsets[i % offsets.length]!)));
    assert.equal(names.length, nodes.length * FORGED_PER_NODE);
    const finished = await waitFor(
      async () => {
        const events = await listKernelPanicEvents(kc);
        const done = events.filter((e) => !["WaitingForLease", undefined].includes(remediatedReason(e)));
        return done.length === names.length ? events : undefined;
      },
      { what: `all ${names.length} forged events decided`, timeoutMs: 180_000, intervalMs: 1000 },
    );
    const reasons = new Map<string, number>();
    for (const e of finished) reasons.set(remediatedReason(e) ?? "", (reasons.get(remediatedReason(e) ?? "") ?? 0) + 1);
    assert.deepEqual([...reasons], [["NodeAlive", names.length]], `outcomes: ${JSON.stringify([...reasons])}`);
    const remediated = (await reconciler.metrics.remediations.get()).values.find(
      (v) => v.labels.result === "remediated",
    );
    assert.equal(remediated?.value ?? 0, 0);
    await assertUntouched();
    assert.ok(
      skewed.every((k) => k.failures === 0 && k.renewals >= 2),
      "the skewed kubelets kept renewing throughout",
    );
  });
});

describe("the forgery guard", () => {
  let reconciler: Reconciler;
  before(async () => {
    // Default forgery settings; it learns the campaign's refusals from the events' status on start.
    reconciler = await startTestReconciler(kc, ["--leader-elect", "false", "--storm-max-percent", "100"]);
  });
  after(async () => {
    await reconciler.stop();
  });

  it("holds a node forged about for approval, across a restart, and touches nothing", async () => {
    const name = await create(forged(nodes[0]!, 999, 0));
    const held = await waitFor(
      async () => {
        const e = (await listKernelPanicEvents(kc)).find((x) => x.metadata.name === name);
        return e !== undefined && remediatedReason(e) === "ApprovalRequired" ? e : undefined;
      },
      { what: "the new event held for approval", timeoutMs: 30_000 },
    );
    assert.match(held.status?.conditions?.find((c) => c.type === "Remediated")?.message ?? "", /refused as forged/);
    await assertUntouched();
  });
});
