// S5 memory: the receiver's resident memory, run from the production build (what the image runs), idle and while
// it tracks 5,000 sources (each with a partial line held) with one and two receive threads, and at its worst case;
// the reconciler's in a cluster of 5,000 Nodes and 50,000 pods, after it has remediated one of them.
import type { ControlPlane } from "../../test/harness/controlplane.ts";
import { waitFor } from "../../test/harness/wait.ts";
import { createNodesWithPods, type BenchNode } from "../lib/cluster.ts";
import { startLoadGenerator } from "../lib/loadgen.ts";
import { productionBuild } from "../lib/bundle.ts";
import { memoryFloor } from "../lib/memory-floor.ts";
import { logDir } from "../lib/logs.ts";
import { RAW_PIPELINE, startReceiver } from "../lib/operator.ts";
import { loopbackAddress, sendPanic } from "../lib/panics.ts";
import { OPEN_STORM_GUARD, startPipeline } from "../lib/pipeline.ts";
import type { Memory } from "../lib/procfs.ts";
import { receiveThreads } from "../../operator/commands/receiver.ts";
import { setTimeout as sleep } from "node:timers/promises";
import { RemediationTracker } from "../lib/remediation.ts";
import { seconds, withControlPlane, type Scenario } from "../lib/scenario.ts";

const SOURCES = 5000;
/** The receiver's defaults allow this many sources; the worst case fills every one. */
export const WORST_SOURCES = 10_000;
/** The chart's memory limit for the receiver container (charts/lastgasp/values.yaml). */
export const CHART_RECEIVER_LIMIT_MIB = 256;
/** The chart's heap limit for the receiver (NODE_OPTIONS in its Deployment). */
export const CHART_NODE_FLAGS = ["--max-old-space-size=160", "--max-semi-space-size=2"];
/** Issue 32: two receive threads tracking 5,000 sources. */
const GOAL_RECEIVER_MIB = 120;
const GOAL_THREADS = 2;
const GOAL_RECONCILER_MIB = 200;

export const s5: Scenario = {
  id: "S5",
  title: "memory",
  run: async (ctx) => {
    const byThreads = await withControlPlane({}, async (plane) => {
      const runs = [];
      for (const threads of [1, GOAL_THREADS]) {
        const run = await receiverMemory(plane, threads);
        ctx.log(
          `S5: receiver, ${threads} threads: ${run.idle.rssMiB} MiB idle, ${run.memory.peakRssMiB} MiB peak with ${run.sources} sources`,
        );
        runs.push(run);
      }
      return runs;
    });
    const worst = await withControlPlane({}, worstReceiverMemory);
    ctx.log(`S5: receiver worst case ${worst.memory.peakRssMiB} MiB peak, ${worst.sources} sources`);
    const floodMs = ctx.quick ? 10_000 : 60_000;
    const byCpus = await withControlPlane({}, (plane) => receiverMemoryByCpus(plane, floodMs, ctx.log));
    const size = ctx.quick ? { nodes: 500, podsPerNode: 10 } : { nodes: 5000, podsPerNode: 10 };
    const reconciler = await withControlPlane({}, (plane) => reconcilerMemory(plane, size, ctx.log));
    const floor = await memoryFloor(CHART_NODE_FLAGS);
    const floorMiB = Math.round((floor.kubeClientMiB + GOAL_THREADS * floor.perWorkerMiB) * 10) / 10;
    ctx.log(`S5: floor ${JSON.stringify(floor)}`);
    const mib = (m: Memory) => `${m.rssMiB} MiB (peak ${m.peakRssMiB} MiB)`;
    return {
      figures: { receiverByThreads: byThreads, receiverWorstCase: worst, receiverByCpus: byCpus, reconciler, floor },
      rows: [
        ...byCpus.map((r) => ({
          figure: `receiver at the chart's limit on ${r.cpus} CPUs (${r.threads} receive thread${r.threads === 1 ? "" : "s"}): idle, then a ${floodMs / 1000} s flood of the worst case`,
          value: `${r.idle.rssMiB} MiB idle; peak ${r.flooded.peakRssMiB} MiB`,
          goal: `< ${CHART_RECEIVER_LIMIT_MIB} MiB (chart limit)`,
          met: r.flooded.peakRssMiB < CHART_RECEIVER_LIMIT_MIB,
        })),
        {
          figure: `receiver worst case at the chart's defaults: ${WORST_SOURCES} sources × 21 lines of 1,024 two-byte characters`,
          value: `${mib(worst.memory)}; ${worst.bufferedMiB} MiB charged, ${worst.memoryDrops} sources retired`,
          goal: `< ${CHART_RECEIVER_LIMIT_MIB} MiB (chart limit)`,
          met: worst.memory.peakRssMiB < CHART_RECEIVER_LIMIT_MIB,
        },
        ...byThreads.map((r) => ({
          figure: `receiver (production build) with ${r.threads} receive thread${r.threads === 1 ? "" : "s"}: idle, then tracking ${r.sources} sources`,
          value: `${r.idle.rssMiB} MiB idle; ${mib(r.memory)}`,
          ...(r.threads === GOAL_THREADS
            ? { goal: `≤ ${GOAL_RECEIVER_MIB} MiB`, met: r.memory.peakRssMiB <= GOAL_RECEIVER_MIB }
            : {}),
        })),
        {
          figure: `the floor under that: an empty Node ${floor.nodeMiB} MiB; with the receiver's Kubernetes layer (bundled) ${floor.kubeClientMiB} MiB; each empty worker thread +${floor.perWorkerMiB} MiB`,
          value: `${floorMiB} MiB with ${GOAL_THREADS} threads, before any receiver code`,
        },
        {
          figure: `reconciler RSS, ${size.nodes} nodes and ${size.nodes * size.podsPerNode} pods, one node remediated`,
          value: mib(reconciler.memory),
          goal: `≤ ${GOAL_RECONCILER_MIB} MB`,
          met: reconciler.memory.peakRssMiB <= GOAL_RECONCILER_MIB,
        },
        { figure: "  that node's panic → remediated, in this cluster", value: seconds(reconciler.remediatedMs) },
      ],
    };
  },
};

/** 20 lines from each of 5,000 sources, the odd ones (plain mode) left with a partial line held. */
async function receiverMemory(plane: ControlPlane, threads: number) {
  const receiver = await startReceiver({
    kubeconfig: plane.kubeconfigPath,
    flags: [...RAW_PIPELINE, "--receive-threads", String(threads)],
    nodeFlags: CHART_NODE_FLAGS,
    dir: logDir(`S5-receiver-${threads}`),
    entry: await productionBuild(),
  });
  const generator = await startLoadGenerator(receiver.udpPort, SOURCES, 6, 1);
  try {
    await sleep(IDLE_SETTLE_MS);
    const idle = receiver.memory();
    await generator.run({ rate: 50_000, durationMs: 2000, panicSources: [] });
    const sources = await waitFor(
      async () => {
        const n = await receiver.metric("lastgasp_receiver_sources");
        return n >= SOURCES ? n : undefined;
      },
      { what: `${SOURCES} sources tracked`, timeoutMs: 30_000 },
    );
    return { threads, sources, idle, memory: receiver.memory() };
  } finally {
    generator.stop();
    await receiver.stop();
  }
}

/**
 * The most memory the receiver's default settings let untrusted input take: every one of maxSources sources
 * filling its ring of recent lines with the longest lines of two-byte characters. Run as the chart runs it (its
 * heap limit), so the figure compares with the chart's memory limit.
 */
async function worstReceiverMemory(plane: ControlPlane) {
  const receiver = await startReceiver({
    kubeconfig: plane.kubeconfigPath,
    flags: RAW_PIPELINE,
    nodeFlags: CHART_NODE_FLAGS,
    dir: logDir("S5-receiver-worst"),
    entry: await productionBuild(),
  });
  const generator = await startLoadGenerator(receiver.udpPort, WORST_SOURCES, 7, 1);
  try {
    // 21 lines × 3 datagrams for each source, and more: 50,000 datagrams/s for 16 s.
    await generator.run({ rate: 50_000, durationMs: 16_000, panicSources: [], payload: "worst" });
    const buffered = await receiver.metric("lastgasp_receiver_buffered_bytes");
    return {
      sources: await receiver.metric("lastgasp_receiver_sources"),
      bufferedMiB: Math.round(buffered / 2 ** 20),
      memoryDrops: await receiver.metric("lastgasp_receiver_drops_total", { reason: "memory" }),
      memory: receiver.memory(),
    };
  } finally {
    generator.stop();
    await receiver.stop();
  }
}

/** CPU counts a node may give the receiver's container: the chart's default then chooses the thread count. */
export const CPU_COUNTS = [1, 2, 4, 8, 16];

/**
 * The receiver as the chart runs it on nodes of 1 to 16 CPUs: receive threads as its memory limit has room for
 * (receiveThreads 0), idle, then flooded with the worst case (every source's ring filled with the longest two-byte
 * lines) at 50,000 datagrams a second. Each thread count is measured once.
 */
async function receiverMemoryByCpus(plane: ControlPlane, floodMs: number, log: (m: string) => void) {
  const limit = { receiveThreads: 0, memoryLimitBytes: CHART_RECEIVER_LIMIT_MIB * 2 ** 20 };
  const measured = new Map<number, { idle: Memory; flooded: Memory }>();
  for (const threads of new Set(CPU_COUNTS.map((cpus) => receiveThreads(limit, cpus)))) {
    const receiver = await startReceiver({
      kubeconfig: plane.kubeconfigPath,
      flags: [...RAW_PIPELINE, "--receive-threads", String(threads)],
      nodeFlags: CHART_NODE_FLAGS,
      dir: logDir(`S5-receiver-${threads}-threads`),
      entry: await productionBuild(),
    });
    const generator = await startLoadGenerator(receiver.udpPort, WORST_SOURCES, 7, 1);
    try {
      await sleep(IDLE_SETTLE_MS);
      const idle = receiver.memory();
      await generator.run({ rate: 50_000, durationMs: floodMs, panicSources: [], payload: "worst" });
      measured.set(threads, { idle, flooded: receiver.memory() });
      log(`S5: ${threads} receive threads: ${idle.rssMiB} MiB idle, ${receiver.memory().peakRssMiB} MiB peak flooded`);
    } finally {
      generator.stop();
      await receiver.stop();
    }
  }
  return CPU_COUNTS.map((cpus) => {
    const threads = receiveThreads(limit, cpus);
    return { cpus, threads, ...measured.get(threads)! };
  });
}

/** Idle: the receiver started and its threads loaded (the figure no longer moves after this). */
export const IDLE_SETTLE_MS = 3000;

async function reconcilerMemory(
  plane: ControlPlane,
  size: { nodes: number; podsPerNode: number },
  log: (m: string) => void,
) {
  const kc = plane.adminKubeConfig();
  const nodes: BenchNode[] = Array.from({ length: size.nodes }, (_, i) => ({
    name: `s5-${i}`,
    ip: loopbackAddress(5, i),
  }));
  const started = performance.now();
  await createNodesWithPods(kc, { scenario: "S5", namespace: "s5", nodes, podsPerNode: size.podsPerNode });
  log(
    `S5: ${size.nodes} nodes and ${size.nodes * size.podsPerNode} pods created in ${seconds(performance.now() - started)}`,
  );
  const pipeline = await startPipeline(plane, {
    dir: logDir("S5-reconciler"),
    reconcilerFlags: ["--lease-check", "false", ...OPEN_STORM_GUARD],
  });
  const victim = nodes[0]!;
  const tracker = await RemediationTracker.start(kc, "S5", new Map([[victim.name, size.podsPerNode]]));
  try {
    const sentAt = await sendPanic({ mode: "extended", ending: "hang" }, victim.ip, pipeline.receiver.udpPort);
    const [doneAt] = await tracker.waitDone([victim.name], 120_000);
    return {
      nodes: size.nodes,
      pods: size.nodes * size.podsPerNode,
      remediatedMs: Math.round(doneAt! - sentAt),
      memory: pipeline.reconciler.memory(),
    };
  } finally {
    tracker.stop();
    await pipeline.stop();
  }
}
