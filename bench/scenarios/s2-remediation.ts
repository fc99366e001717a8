// S2 record → remediated: one node at a time (110 pods, its own simulated kubelet), the kubelet killed and the
// panic sent at the same instant, timed until every pod was deleted after being marked Failed with a reason and
// the Node is gone. Three settings: the defaults (the lease check with the probe: the node's kubelet port, which
// answered the reconciler's probes, goes silent with the panic, and the panic continues the node's netconsole
// stream anchored by its agent's self-test; silent-nodes.ts), the lease check alone (the probe off: it waits for
// the node's Lease to go stale), and the lease check off.
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { randomUUID } from "node:crypto";
import type { ControlPlane } from "../../test/harness/controlplane.ts";
import { createNodesWithPods, waitRunning, type BenchNode } from "../lib/cluster.ts";
import { setNodeBootID } from "../../test/harness/workloads.ts";
import { logDir } from "../lib/logs.ts";
import { loopbackAddress, sendPanic } from "../lib/panics.ts";
import { OPEN_STORM_GUARD, startPipeline, type Pipeline } from "../lib/pipeline.ts";
import { silentNodes, type SilentNodes } from "../lib/silent-nodes.ts";
import { freePort } from "../../test/harness/ports.ts";
import { waitFor } from "../../test/harness/wait.ts";
import { RemediationTracker } from "../lib/remediation.ts";
import { seconds, withControlPlane, type Row, type Scenario } from "../lib/scenario.ts";
import { roundDistribution, summarize, type Distribution } from "../lib/stats.ts";
import { writeFloor } from "../lib/write-floor.ts";

export const PODS_PER_NODE = 110;
const GOAL_P99_MS = 2000;

interface NodeRun {
  readonly totalMs: number;
  readonly recordMs: number;
  readonly unexplained: number;
}

interface VariantFigures {
  readonly firstRemediationMs: number;
  readonly nodes: number;
  readonly podsPerNode: number;
  readonly panicToRemediatedMs: Distribution;
  readonly panicToRecordedMs: Distribution;
  readonly podsDeletedWithoutReason: number;
}

type Setting = "defaults" | "lease" | "off";

const SETTINGS: Record<Setting, { label: string; flags: string[]; ipOctet: number }> = {
  defaults: { label: "defaults (lease check + probe)", flags: [], ipOctet: 200 },
  lease: { label: "lease check alone (probe off)", flags: ["--probe", "false"], ipOctet: 100 },
  off: { label: "lease check off", flags: ["--lease-check", "false"], ipOctet: 0 },
};

/** Nodes that answer the probes throughout: the reconciler's controls (silence counts only while others answer). */
const CONTROLS = 2;

export const s2: Scenario = {
  id: "S2",
  title: "record → remediated (one node at a time)",
  run: async (ctx) =>
    withControlPlane({ controllerManager: true, kwok: true }, async (plane) => {
      const counts: Record<Setting, number> = ctx.quick
        ? { defaults: 3, lease: 1, off: 3 }
        : { defaults: 20, lease: 5, off: 20 };
      ctx.log(`S2: ${JSON.stringify(counts)} nodes per setting, ${PODS_PER_NODE} pods each`);
      const figures: Partial<Record<Setting, VariantFigures>> = {};
      for (const setting of ["defaults", "off", "lease"] as const)
        figures[setting] = await variant(plane, setting, counts[setting], ctx.log);
      const floor = await floorRuns(plane, counts.off);
      ctx.log(`S2 floor: ${counts.off} nodes, p99 ${seconds(floor.p99)}`);
      const off = figures.off!.panicToRemediatedMs.p99;
      return {
        figures: { defaults: figures.defaults, leaseCheckOff: figures.off, leaseCheckOn: figures.lease, floor },
        rows: [
          ...(["defaults", "off", "lease"] as const).flatMap((setting) =>
            rows(SETTINGS[setting].label, figures[setting]!, setting === "defaults"),
          ),
          {
            figure: `floor: a plain client doing only one node's needed writes, p50 / p99 (${counts.off} nodes)`,
            value: `${seconds(floor.p50)} / ${seconds(floor.p99)}`,
          },
          {
            figure: `${SETTINGS.off.label}: panic → remediated p99 ÷ the floor's p99 (same run)`,
            value: `${(off / floor.p99).toFixed(2)}×`,
            goal: "≤ 1.25×",
            met: off / floor.p99 <= 1.25,
          },
        ],
      };
    }),
};

/** Where a setting's nodes live and how they die: loopback, or a namespace whose addresses can go silent. */
interface Site {
  readonly receiverHost?: string;
  address(i: number): Promise<string>;
  die(): Promise<void>;
  send(node: BenchNode, receiverPort: number): Promise<number>;
  /** Waits until the reconciler can judge this node by the probe (and its stream, anchored now). */
  ready(pipeline: Pipeline, node: BenchNode): Promise<void>;
  readonly kubeletPort?: number;
  remove(): Promise<void>;
}

async function variant(plane: ControlPlane, setting: Setting, count: number, log: (m: string) => void) {
  const site = setting === "defaults" ? await probedSite(plane) : loopbackSite(SETTINGS[setting].ipOctet);
  const pipeline = await startPipeline(plane, {
    dir: logDir(`S2-${setting}`),
    reconcilerFlags: [...SETTINGS[setting].flags, ...OPEN_STORM_GUARD],
    ...(site.receiverHost === undefined ? {} : { receiverHost: site.receiverHost }),
  });
  try {
    const one = async (i: number) => {
      const node = { name: `s2-${setting}-${i}`, ip: await site.address(i) };
      return remediateOne(plane, pipeline, site, { ...node, kubelets: node.name });
    };
    // The first remediation of fresh processes (a control plane just started, a reconciler whose remediation
    // code never ran) is reported on its own: the distribution is of a running system's.
    const first = await one(0);
    log(`S2 ${setting}: first node (not in the distribution) remediated in ${Math.round(first.totalMs)} ms`);
    const runs: NodeRun[] = [];
    for (let i = 1; i <= count; i++) {
      runs.push(await one(i));
      log(`S2 ${setting}: node ${i}/${count} remediated in ${Math.round(runs.at(-1)!.totalMs)} ms`);
    }
    return {
      firstRemediationMs: Math.round(first.totalMs),
      nodes: count,
      podsPerNode: PODS_PER_NODE,
      panicToRemediatedMs: roundDistribution(summarize(runs.map((r) => r.totalMs))),
      panicToRecordedMs: roundDistribution(summarize(runs.map((r) => r.recordMs))),
      podsDeletedWithoutReason: runs.reduce((sum, r) => sum + r.unexplained, 0),
    };
  } finally {
    await pipeline.stop();
    await site.remove();
  }
}

function loopbackSite(octet: number): Site {
  return {
    address: (i) => Promise.resolve(loopbackAddress(2, i + octet)),
    die: () => Promise.resolve(),
    send: (node, port) => sendPanic({ mode: "extended", ending: "reboot", nodeName: node.name }, node.ip, port),
    ready: () => Promise.resolve(),
    remove: () => Promise.resolve(),
  };
}

/** Nodes in a namespace (silent-nodes.ts), with CONTROLS nodes on loopback answering throughout. */
async function probedSite(plane: ControlPlane): Promise<Site> {
  const nodes: SilentNodes = await silentNodes();
  const kubeletPort = await freePort();
  const controls = await plane.startKubelets("s2-controls", kubeletPort);
  const kc = plane.adminKubeConfig();
  const controlNodes = Array.from({ length: CONTROLS }, (_, i) => ({
    name: `s2-control-${i}`,
    ip: loopbackAddress(3, i),
    kubelets: "s2-controls",
  }));
  await createNodesWithPods(kc, { scenario: "S2-controls", namespace: "s2", nodes: controlNodes, podsPerNode: 0 });
  return {
    receiverHost: nodes.receiverHost,
    kubeletPort,
    address: (i) => nodes.add(i + 1),
    die: () => nodes.silence(),
    send: (node, port) => nodes.sendPanic(node.ip, port, node.name),
    ready: async (pipeline, node) => {
      // As a kubelet reports its boot id, and the node's agent writes its self-test with it.
      const bootId = randomUUID();
      await setNodeBootID(kc, node.name, bootId);
      await nodes.anchor(node.ip, pipeline.receiver.udpPort, node.name, bootId);
      await probeBaseline(pipeline, CONTROLS + 1);
    },
    remove: async () => {
      await controls.stop();
      await nodes.remove();
    },
  };
}

/**
 * Two sweeps after the node appeared (the second started after it), the reconciler counts a fresh baseline for
 * it and the controls: only then is the probe, not the Lease, what S2 measures.
 */
async function probeBaseline(pipeline: Pipeline, nodes: number): Promise<void> {
  const sweeps = await pipeline.reconciler.metric("lastgasp_reconciler_probe_sweeps_total");
  await waitFor(
    async () =>
      (await pipeline.reconciler.metric("lastgasp_reconciler_probe_sweeps_total")) >= sweeps + 2 &&
      (await pipeline.reconciler.metric("lastgasp_reconciler_probe_baseline_nodes")) >= nodes,
    { what: `a probe baseline for ${nodes} nodes`, timeoutMs: 120_000, intervalMs: 250 },
  );
}

/** Sets up one node with its pods, then kills its kubelet and sends its panic at the same instant. */
async function remediateOne(plane: ControlPlane, pipeline: Pipeline, site: Site, node: BenchNode): Promise<NodeRun> {
  const kc: KubeConfig = plane.adminKubeConfig();
  await createNodesWithPods(kc, { scenario: node.name, namespace: "s2", nodes: [node], podsPerNode: PODS_PER_NODE });
  const kubelet = await plane.startKubelets(node.kubelets!, site.kubeletPort);
  await waitRunning(kc, node.name, PODS_PER_NODE, 60_000);
  await site.ready(pipeline, node);
  const tracker = await RemediationTracker.start(kc, node.name, new Map([[node.name, PODS_PER_NODE]]));
  try {
    kubelet.killNow();
    await site.die();
    const sentAt = await site.send(node, pipeline.receiver.udpPort);
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

/** One node at a time, as the variants: its 110 pods Running, its kubelet killed, then only the writes, timed. */
async function floorRuns(plane: ControlPlane, count: number) {
  const kc: KubeConfig = plane.adminKubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const node: BenchNode = { name: `s2-floor-${i}`, ip: loopbackAddress(9, i), kubelets: `s2-floor-${i}` };
    await createNodesWithPods(kc, { scenario: node.name, namespace: "s2", nodes: [node], podsPerNode: PODS_PER_NODE });
    const kubelet = await plane.startKubelets(node.kubelets!);
    await waitRunning(kc, node.name, PODS_PER_NODE, 60_000);
    kubelet.killNow();
    await kubelet.stop();
    const pods = (await core.listNamespacedPod({ namespace: "s2", fieldSelector: `spec.nodeName=${node.name}` })).items;
    const uid = (await core.readNode({ name: node.name })).metadata!.uid!;
    times.push((await writeFloor(kc, [{ name: node.name, uid, pods }])).allMs);
  }
  return roundDistribution(summarize(times));
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
    { figure: `${label}: the first node after start (not in the above)`, value: seconds(v.firstRemediationMs) },
    { figure: `${label}: pods deleted without Failed + reason`, value: String(v.podsDeletedWithoutReason) },
  ];
}
