// S2 record → remediated: one node at a time (110 pods, its own simulated kubelet), the kubelet killed and the
// panic sent at the same instant, timed until every pod was deleted after being marked Failed with a reason and
// the Node is gone. With the lease check off, then on (it waits for the node's Lease to go stale).
import type { KubeConfig } from "@kubernetes/client-node";
import type { ControlPlane } from "../../test/harness/controlplane.ts";
import { createNodesWithPods, waitRunning, type BenchNode } from "../lib/cluster.ts";
import { logDir } from "../lib/logs.ts";
import { loopbackAddress, sendPanic } from "../lib/panics.ts";
import { OPEN_STORM_GUARD, startPipeline, type Pipeline } from "../lib/pipeline.ts";
import { RemediationTracker } from "../lib/remediation.ts";
import { seconds, withControlPlane, type Row, type Scenario } from "../lib/scenario.ts";
import { roundDistribution, summarize, type Distribution } from "../lib/stats.ts";

export const PODS_PER_NODE = 110;
const GOAL_P99_MS = 2000;

interface NodeRun {
  readonly totalMs: number;
  readonly recordMs: number;
  readonly unexplained: number;
}

interface VariantFigures {
  readonly nodes: number;
  readonly podsPerNode: number;
  readonly panicToRemediatedMs: Distribution;
  readonly panicToRecordedMs: Distribution;
  readonly podsDeletedWithoutReason: number;
}

export const s2: Scenario = {
  id: "S2",
  title: "record → remediated (one node at a time)",
  run: async (ctx) =>
    withControlPlane({ controllerManager: true, kwok: true }, async (plane) => {
      const nodes = ctx.quick ? { off: 3, on: 1 } : { off: 20, on: 20 };
      ctx.log(`S2: ${nodes.off} nodes with the lease check off, ${nodes.on} with it on, ${PODS_PER_NODE} pods each`);
      const off = await variant(plane, "off", nodes.off, ctx.log);
      const on = await variant(plane, "on", nodes.on, ctx.log);
      return {
        figures: { leaseCheckOff: off, leaseCheckOn: on },
        rows: [...rows("lease check off", off, true), ...rows("lease check on", on, false)],
      };
    }),
};

async function variant(plane: ControlPlane, lease: "on" | "off", count: number, log: (m: string) => void) {
  const pipeline = await startPipeline(plane, {
    dir: logDir(`S2-lease-${lease}`),
    reconcilerFlags: ["--lease-check", String(lease === "on"), ...OPEN_STORM_GUARD],
  });
  try {
    const runs: NodeRun[] = [];
    for (let i = 0; i < count; i++) {
      const node = { name: `s2-lease-${lease}-${i}`, ip: loopbackAddress(2, i + (lease === "on" ? 100 : 0)) };
      runs.push(await remediateOne(plane, pipeline, { ...node, kubelets: node.name }));
      log(`S2 lease ${lease}: node ${i + 1}/${count} remediated in ${Math.round(runs.at(-1)!.totalMs)} ms`);
    }
    return {
      nodes: count,
      podsPerNode: PODS_PER_NODE,
      panicToRemediatedMs: roundDistribution(summarize(runs.map((r) => r.totalMs))),
      panicToRecordedMs: roundDistribution(summarize(runs.map((r) => r.recordMs))),
      podsDeletedWithoutReason: runs.reduce((sum, r) => sum + r.unexplained, 0),
    };
  } finally {
    await pipeline.stop();
  }
}

/** Sets up one node with its pods, then kills its kubelet and sends its panic at the same instant. */
async function remediateOne(plane: ControlPlane, pipeline: Pipeline, node: BenchNode): Promise<NodeRun> {
  const kc: KubeConfig = plane.adminKubeConfig();
  await createNodesWithPods(kc, { scenario: node.name, namespace: "s2", nodes: [node], podsPerNode: PODS_PER_NODE });
  const kubelet = await plane.startKubelets(node.kubelets!);
  await waitRunning(kc, node.name, PODS_PER_NODE, 60_000);
  const tracker = await RemediationTracker.start(kc, node.name, new Map([[node.name, PODS_PER_NODE]]));
  try {
    kubelet.killNow();
    const sentAt = await sendPanic(
      { mode: "extended", ending: "reboot", nodeName: node.name },
      node.ip,
      pipeline.receiver.udpPort,
    );
    const [doneAt] = await tracker.waitDone([node.name], 90_000);
    return {
      totalMs: doneAt! - sentAt,
      recordMs: pipeline.recordedAt.get(node.ip)! - sentAt,
      unexplained: tracker.unexplained(node.name),
    };
  } finally {
    tracker.stop();
    await kubelet.stop();
  }
}

function rows(label: string, v: VariantFigures, withGoal: boolean): Row[] {
  const d = v.panicToRemediatedMs;
  return [
    { figure: `${label}: panic → remediated p50 (${v.nodes} nodes × ${v.podsPerNode} pods)`, value: seconds(d.p50) },
    {
      figure: `${label}: panic → remediated p99`,
      value: seconds(d.p99),
      ...(withGoal ? { goal: `≤ ${seconds(GOAL_P99_MS)}`, met: d.p99 <= GOAL_P99_MS } : {}),
    },
    { figure: `${label}: of which panic → KernelPanicEvent p50`, value: seconds(v.panicToRecordedMs.p50) },
    { figure: `${label}: pods deleted without Failed + reason`, value: String(v.podsDeletedWithoutReason) },
  ];
}
