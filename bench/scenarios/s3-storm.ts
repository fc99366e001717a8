// S3 storm: many nodes × 110 pods panic within one second (storm guard opened), all their kubelets dying at
// once. Timed until every node is remediated, with the reconciler's request rate and 429s sampled, while
// another client keeps writing and its latency is measured.
import { performance } from "node:perf_hooks";
import { setTimeout as delay } from "node:timers/promises";
import type { ControlPlane } from "../../test/harness/controlplane.ts";
import { createNodesWithPods, waitRunning, type BenchNode } from "../lib/cluster.ts";
import { logDir } from "../lib/logs.ts";
import type { OperatorProcess } from "../lib/operator.ts";
import { loopbackAddress, sendPanic } from "../lib/panics.ts";
import { OPEN_STORM_GUARD, startPipeline } from "../lib/pipeline.ts";
import { RemediationTracker } from "../lib/remediation.ts";
import { seconds, withControlPlane, ms, type Row, type Scenario } from "../lib/scenario.ts";
import { metricSum } from "../lib/prometheus.ts";
import { peakRate, roundDistribution, summarize, type CounterSample } from "../lib/stats.ts";
import { startWriteProbe } from "../lib/write-probe.ts";
import { FLOOR_CONCURRENCY, writeFloor } from "../lib/write-floor.ts";
import { CoreV1Api } from "@kubernetes/client-node";
import { PODS_PER_NODE } from "./s2-remediation.ts";

const GOAL_ALL_MS = 30_000;
const GOAL_OTHER_P99_MS = 1000;
const OTHER_WRITES_PER_SECOND = 20;

interface Variant {
  readonly name: string;
  readonly flags: readonly string[];
}

/** The defaults (lease check on, 100 requests/s), and a reconciler tuned for speed. */
const DEFAULTS: Variant = { name: "defaults", flags: [] };
const TUNED: Variant = {
  name: "tuned",
  flags: ["--lease-check", "false", "--qps", "500", "--burst", "1000", "--concurrency", "16"],
};

export const s3: Scenario = {
  id: "S3",
  title: "storm",
  run: async (ctx) => {
    const nodes = ctx.quick ? 10 : 50;
    const variants = ctx.quick ? [TUNED] : [DEFAULTS, TUNED];
    const figures: Record<string, unknown> = {};
    const rows: Row[] = [];
    for (const v of variants) {
      ctx.log(`S3 ${v.name}: ${nodes} nodes × ${PODS_PER_NODE} pods panicking within one second`);
      const f = await withControlPlane({ controllerManager: true, kwok: true }, (plane) =>
        storm(plane, nodes, v, ctx.log),
      );
      figures[v.name] = { reconcilerFlags: v.flags.join(" "), ...f };
      rows.push(...describe(v, f));
    }
    ctx.log(`S3 floor: a plain client doing only the writes for ${nodes} nodes × ${PODS_PER_NODE} pods`);
    const floor = await withControlPlane({ controllerManager: true, kwok: true }, (plane) =>
      writeFloorRun(plane, nodes),
    );
    figures.floor = floor;
    rows.push({
      figure: `floor: a plain client doing only the needed writes (${floor.writes}; ${FLOOR_CONCURRENCY} in flight)`,
      value: seconds(floor.allMs),
    });
    for (const v of variants) {
      const all = (figures[v.name] as StormFigures).allRemediatedMs;
      rows.push({
        figure: `${v.name}: all remediated ÷ the floor (same run)`,
        value: `${(all / floor.allMs).toFixed(2)}×`,
        ...(v === TUNED ? { goal: "≤ 1.25×", met: all / floor.allMs <= 1.25 } : {}),
      });
    }
    return { figures, rows };
  },
};

async function storm(plane: ControlPlane, count: number, variant: Variant, log: (m: string) => void) {
  const kc = plane.adminKubeConfig();
  const scenario = `S3-${variant.name}`;
  const nodes: BenchNode[] = Array.from({ length: count }, (_, i) => ({
    name: `s3-${i}`,
    ip: loopbackAddress(3, i),
    kubelets: "storm",
  }));
  const setupStarted = performance.now();
  await createNodesWithPods(kc, { scenario, namespace: "s3", nodes, podsPerNode: PODS_PER_NODE });
  const kubelets = await plane.startKubelets("storm");
  await waitRunning(kc, scenario, count * PODS_PER_NODE);
  log(`S3 ${variant.name}: ${count * PODS_PER_NODE} pods Running after ${seconds(performance.now() - setupStarted)}`);
  const pipeline = await startPipeline(plane, {
    dir: logDir(scenario),
    reconcilerFlags: [...OPEN_STORM_GUARD, ...variant.flags],
  });
  const tracker = await RemediationTracker.start(kc, scenario, new Map(nodes.map((n) => [n.name, PODS_PER_NODE])));
  const probe = await startWriteProbe(plane.kubeconfigPath, "s3-other-client", OTHER_WRITES_PER_SECOND);
  const sampler = sampleRequests(pipeline.reconciler);
  try {
    kubelets.killNow();
    const sent = await sendStorm(nodes, pipeline.receiver.udpPort);
    log(`S3 ${variant.name}: ${count} panics sent`);
    const doneAt = await tracker.waitDone(
      nodes.map((n) => n.name),
      600_000,
    );
    log(`S3 ${variant.name}: all remediated`);
    const other = await probe.stop();
    const requests = await sampler.stop();
    const perNode = doneAt.map((d, i) => d - sent[i]!);
    return {
      nodes: count,
      pods: count * PODS_PER_NODE,
      allRemediatedMs: Math.round(Math.max(...doneAt) - Math.min(...sent)),
      perNodeMs: roundDistribution(summarize(perNode)),
      podsDeletedWithoutReason: nodes.reduce((sum, n) => sum + tracker.unexplained(n.name), 0),
      reconcilerRequests: requests.total,
      peakRequestsPerSecond: Math.round(requests.peak),
      reconciler429s: requests.throttled,
      otherClient: { writesPerSecond: OTHER_WRITES_PER_SECOND, ...other },
    };
  } finally {
    tracker.stop();
    await sampler.stop();
    await probe.stop().catch(() => undefined);
    await pipeline.stop();
  }
}

/** The same cluster, kubelets dead, and no lastgasp: the writes alone, as fast as the API server takes them. */
async function writeFloorRun(plane: ControlPlane, count: number) {
  const kc = plane.adminKubeConfig();
  const scenario = "S3-floor";
  const nodes: BenchNode[] = Array.from({ length: count }, (_, i) => ({
    name: `s3-${i}`,
    ip: loopbackAddress(3, i),
    kubelets: "storm",
  }));
  await createNodesWithPods(kc, { scenario, namespace: "s3", nodes, podsPerNode: PODS_PER_NODE });
  const kubelets = await plane.startKubelets("storm");
  await waitRunning(kc, scenario, count * PODS_PER_NODE);
  kubelets.killNow();
  const core = kc.makeApiClient(CoreV1Api);
  const pods = (await core.listNamespacedPod({ namespace: "s3" })).items;
  const targets = await Promise.all(
    nodes.map(async (n) => ({
      name: n.name,
      uid: (await core.readNode({ name: n.name })).metadata!.uid!,
      pods: pods.filter((p) => p.spec?.nodeName === n.name),
    })),
  );
  const result = await writeFloor(kc, targets);
  return { ...result, perNodeMs: roundDistribution(summarize(result.perNodeMs)) };
}

/** Sends every node's panic within one second; resolves with when each panic line left. */
async function sendStorm(nodes: readonly BenchNode[], port: number): Promise<number[]> {
  const gapMs = 1000 / nodes.length;
  const sends: Promise<number>[] = [];
  for (const node of nodes) {
    sends.push(sendPanic({ mode: "extended", ending: "reboot", nodeName: node.name }, node.ip, port));
    await delay(gapMs);
  }
  return Promise.all(sends);
}

/** Scrapes the reconciler's request counter every 250 ms, for its peak rate over one-second windows. */
function sampleRequests(reconciler: OperatorProcess) {
  const samples: CounterSample[] = [];
  let throttled = 0;
  const scrape = async () => {
    const text = await reconciler.metrics();
    samples.push({ atMs: performance.now(), value: metricSum(text, "lastgasp_reconciler_api_requests_total") });
    throttled = metricSum(text, "lastgasp_reconciler_api_requests_total", { outcome: "throttled" });
  };
  const timer = setInterval(() => void scrape().catch(() => undefined), 250);
  let result: { total: number; peak: number; throttled: number } | undefined;
  return {
    stop: async () => {
      if (result !== undefined) return result;
      clearInterval(timer);
      await scrape();
      const total = samples.at(-1)!.value - samples[0]!.value;
      result = { total, peak: peakRate(samples), throttled };
      return result;
    },
  };
}

type StormFigures = Awaited<ReturnType<typeof storm>>;

function describe(v: Variant, f: StormFigures): Row[] {
  const label = `${v.name}${v.flags.length > 0 ? ` (${v.flags.join(" ")})` : ""}`;
  const o = f.otherClient.writeLatencyMs;
  return [
    {
      figure: `${label}: all ${f.pods} pods on ${f.nodes} nodes remediated`,
      value: seconds(f.allRemediatedMs),
      goal: `≤ ${seconds(GOAL_ALL_MS)}`,
      met: f.allRemediatedMs <= GOAL_ALL_MS,
    },
    {
      figure: `${v.name}: per node, its panic → remediated p50 / p99`,
      value: `${seconds(f.perNodeMs.p50)} / ${seconds(f.perNodeMs.p99)}`,
    },
    {
      figure: `${v.name}: reconciler requests; peak per second; 429s`,
      value: `${f.reconcilerRequests}; ${f.peakRequestsPerSecond}/s; ${f.reconciler429s}`,
    },
    {
      figure: `${v.name}: another client's writes p99 (${o.count} writes, ${f.otherClient.throttled} 429s)`,
      value: ms(o.p99),
      goal: `≤ ${ms(GOAL_OTHER_P99_MS)}`,
      met: o.p99 <= GOAL_OTHER_P99_MS,
    },
    { figure: `${v.name}: pods deleted without Failed + reason`, value: String(f.podsDeletedWithoutReason) },
  ];
}
