// S4 ingest: netconsole chatter from loopback sources (extended and plain) with panics mixed in, at rising rates,
// in two modes, for each way a receive thread reads its socket (recvmmsg through the addon; Node's dgram).
// "pinned": 5,000 sources, the receiver (one receive thread) on one CPU and the generator on the other; the
// highest rate with zero loss: every datagram sent counted by the receiver, no socket drop (/proc/net/udp), no
// drop of the receiver's own, and every panic detected; then one step at twice that rate, where every panic must
// still be recorded. "shared": 2,000 sources, the receiver with its default receive threads (one per CPU) and
// the generator sharing every CPU, as on a busy node; the share of datagrams received and processed and the
// panics detected at each rate. Given `--netconsd PATH` (Meta's netconsd, built from its source: see
// docs/benchmarks.md), the shared mode runs it on the same load beside, for the processed share it reports.
import { availableParallelism } from "node:os";
import { setTimeout as delay } from "node:timers/promises";
import { waitFor } from "../../test/harness/wait.ts";
import { startBlaster } from "../lib/blaster.ts";
import type { LoadGenerator } from "../lib/loadgen.ts";
import { logDir } from "../lib/logs.ts";
import { netconsdSteps, type NetconsdStep } from "../lib/netconsd.ts";
import { RAW_PIPELINE, startReceiver, type OperatorProcess } from "../lib/operator.ts";
import { udpSocketDrops } from "../lib/procfs.ts";
import { metricSum } from "../lib/prometheus.ts";
import { withControlPlane, type Row, type Scenario } from "../lib/scenario.ts";

const PINNED_SOURCES = 5000;
/** The comparison with netconsd: 2,000 sources sharing the cores with their sender. */
const SHARED_SOURCES = 2000;
const GOAL_PPS = 150_000;
const PANICS_PER_STEP = 5;

interface Step {
  readonly targetPps: number;
  readonly achievedPps: number;
  readonly sent: number;
  readonly received: number;
  readonly socketDrops: number;
  readonly receiverDrops: number;
  readonly panicsSent: number;
  readonly panicsDetected: number;
  readonly lossless: boolean;
}

interface Mode {
  readonly name: "pinned" | "shared";
  readonly threads: number;
  readonly sources: number;
  readonly receiverCpu?: number;
  readonly senderCpu?: number;
}

type ReceivePath = "recvmmsg" | "dgram";
const PATHS: readonly ReceivePath[] = ["recvmmsg", "dgram"];

const PINNED: Mode = { name: "pinned", threads: 1, sources: PINNED_SOURCES, receiverCpu: 0, senderCpu: 1 };
const SHARED: Mode = { name: "shared", threads: availableParallelism(), sources: SHARED_SOURCES };

interface PathRun {
  readonly path: ReceivePath;
  readonly pinned: { steps: Step[]; sources: number; twice?: Step };
  readonly shared: { steps: Step[]; sources: number };
}

export const s4: Scenario = {
  id: "S4",
  title: "ingest",
  run: async (ctx) =>
    withControlPlane({}, async (plane) => {
      const durationMs = ctx.quick ? 2000 : 10_000;
      const pinnedRates = ctx.quick
        ? [50_000, 100_000, 150_000, 200_000]
        : [25_000, 50_000, 75_000, 100_000, 125_000, 150_000, 200_000, 250_000, 300_000, 400_000];
      const sharedRates = ctx.quick ? [100_000, 150_000] : [50_000, 100_000, 150_000, 200_000];
      let stepIndex = 0;
      const run = async (
        mode: Mode,
        path: ReceivePath,
        rates: readonly number[],
        extra?: (steps: Step[]) => number,
      ) => {
        const receiver = await startReceiver({
          kubeconfig: plane.kubeconfigPath,
          flags: [
            ...RAW_PIPELINE,
            "--receive-threads",
            String(mode.threads),
            "--receive-path",
            path === "dgram" ? "dgram" : "auto",
          ],
          dir: logDir(`S4-${mode.name}-${path}`),
          ...(mode.receiverCpu === undefined ? {} : { cpu: mode.receiverCpu }),
        });
        const threads = await receiver.metric("lastgasp_receiver_receive_threads", { path });
        if (threads !== mode.threads)
          throw new Error(`the receiver runs ${threads} of ${mode.threads} threads on ${path}`);
        const generator = await startBlaster(receiver.udpPort, mode.sources, 4, mode.senderCpu);
        const measure = async (rate: number) => {
          const panicSources = Array.from({ length: PANICS_PER_STEP }, () => stepIndex++ % mode.sources);
          const s = await step(receiver, generator, { rate, durationMs, panicSources });
          ctx.log(`S4 ${mode.name} ${path} (${mode.threads} threads): ${rate} pps target, ${describeStep(s)}`);
          return s;
        };
        try {
          const steps: Step[] = [];
          for (const rate of rates) steps.push(await measure(rate));
          const twiceRate = extra?.(steps);
          const twice = twiceRate === undefined || twiceRate === 0 ? undefined : await measure(twiceRate);
          return { steps, sources: await receiver.metric("lastgasp_receiver_sources"), twice };
        } finally {
          generator.stop();
          await receiver.stop();
        }
      };
      const runs: PathRun[] = [];
      for (const path of PATHS) {
        const pinned = await run(PINNED, path, pinnedRates, (steps) => 2 * losslessLimit(steps));
        const shared = await run(SHARED, path, sharedRates);
        runs.push({ path, pinned, shared });
      }
      const netconsd =
        ctx.netconsd === undefined
          ? undefined
          : await netconsdSteps(ctx.netconsd, { rates: sharedRates, durationMs, sources: SHARED_SOURCES }, ctx.log);
      return report(runs, netconsd, durationMs);
    }),
};

/** The pinned lossless limit: the last rate before the first loss. */
function losslessLimit(steps: readonly Step[]): number {
  const firstLoss = steps.findIndex((s) => !s.lossless);
  return (firstLoss === -1 ? steps : steps.slice(0, firstLoss)).at(-1)?.achievedPps ?? 0;
}

function describeStep(s: Step): string {
  const share = `${percent(s.received, s.sent)} read, ${percent(s.received - s.receiverDrops, s.sent)} processed`;
  if (s.lossless) return `${s.achievedPps} sent/s: no loss`;
  return `${s.achievedPps} sent/s: LOSS, ${share} (${s.socketDrops} socket drops, ${s.receiverDrops} receiver drops, ${s.panicsDetected}/${s.panicsSent} panics)`;
}

function percent(part: number, whole: number): string {
  return `${whole === 0 ? 0 : Math.floor((part / whole) * 1000) / 10} %`;
}

async function step(
  receiver: OperatorProcess,
  generator: LoadGenerator,
  request: { rate: number; durationMs: number; panicSources: number[] },
): Promise<Step> {
  // One scrape for all three counters, so that they describe the same instant.
  const counters = async () => {
    const text = await receiver.metrics();
    return {
      received: metricSum(text, "lastgasp_receiver_packets_total"),
      drops: metricSum(text, "lastgasp_receiver_drops_total"),
      panics: metricSum(text, "lastgasp_receiver_panics_detected_total"),
      socketDrops: udpSocketDrops(receiver.udpPort),
    };
  };
  const before = await counters();
  const { sent, elapsedMs } = await generator.run(request);
  const panicDatagrams = request.panicSources.length * 20;
  // Until the receiver has read what is still queued in its socket.
  let last = -1;
  const after = await waitFor(
    async () => {
      const now = await counters();
      const settled = now.received === last;
      last = now.received;
      await delay(200);
      return settled ? now : undefined;
    },
    { what: "the receiver to drain its socket", timeoutMs: 30_000 },
  );
  const received = after.received - before.received - panicDatagrams;
  const panicsDetected = after.panics - before.panics;
  const socketDrops = after.socketDrops - before.socketDrops;
  const receiverDrops = after.drops - before.drops;
  return {
    targetPps: request.rate,
    achievedPps: Math.round((sent / elapsedMs) * 1000),
    sent,
    received,
    socketDrops,
    receiverDrops,
    panicsSent: request.panicSources.length,
    panicsDetected,
    lossless:
      received === sent && socketDrops === 0 && receiverDrops === 0 && panicsDetected === request.panicSources.length,
  };
}

const processedShare = (s: Step) => (s.received - s.receiverDrops) / Math.max(1, s.sent);

function report(runs: readonly PathRun[], netconsd: readonly NetconsdStep[] | undefined, durationMs: number) {
  const rows: Row[] = runs.flatMap((run) => pathRows(run, durationMs, netconsd));
  const [batched, plain] = [runs.find((r) => r.path === "recvmmsg"), runs.find((r) => r.path === "dgram")];
  if (batched !== undefined && plain !== undefined) {
    rows.push({
      figure: "pinned lossless limit, recvmmsg ÷ dgram (same run)",
      value: ratio(losslessLimit(batched.pinned.steps), losslessLimit(plain.pinned.steps)),
    });
    for (const [i, s] of batched.shared.steps.entries()) {
      const other = plain.shared.steps[i];
      if (other === undefined) continue;
      rows.push({
        figure: `shared ${s.targetPps.toLocaleString("en")} packets/s: processed share, recvmmsg ÷ dgram`,
        value: ratio(processedShare(s), processedShare(other)),
      });
    }
  }
  for (const s of netconsd ?? [])
    rows.push({
      figure: `netconsd, shared ${s.targetPps.toLocaleString("en")} packets/s (${SHARED_SOURCES} sources, its default 1 listener and 2 workers)`,
      value: `${percent(s.processed, s.sent)} processed (${s.achievedPps.toLocaleString("en")} sent/s)`,
    });
  const all = runs.flatMap((r) => [...r.pinned.steps, ...(r.pinned.twice ? [r.pinned.twice] : []), ...r.shared.steps]);
  rows.push({
    figure: "panics detected / sent (all steps, both modes, both paths)",
    value: `${all.reduce((a, s) => a + s.panicsDetected, 0)} / ${all.reduce((a, s) => a + s.panicsSent, 0)}`,
  });
  return {
    figures: {
      sources: { pinned: PINNED_SOURCES, shared: SHARED_SOURCES },
      stepSeconds: durationMs / 1000,
      ...Object.fromEntries(
        runs.map((r) => [
          r.path,
          {
            losslessPps: losslessLimit(r.pinned.steps),
            steps: r.pinned.steps,
            twice: r.pinned.twice,
            shared: { threads: SHARED.threads, steps: r.shared.steps },
          },
        ]),
      ),
      ...(netconsd === undefined ? {} : { netconsd }),
    },
    rows,
  };
}

function ratio(a: number, b: number): string {
  return b === 0 ? "n/a" : `${(a / b).toFixed(2)}×`;
}

function pathRows(run: PathRun, durationMs: number, netconsd: readonly NetconsdStep[] | undefined): Row[] {
  const { pinned, shared, path } = run;
  const bestPps = losslessLimit(pinned.steps);
  const failed = pinned.steps.find((s) => !s.lossless);
  const twice = pinned.twice;
  return [
    {
      figure: `${path}: highest sustained rate without loss (${PINNED_SOURCES} sources, ${durationMs / 1000} s per step, receiver on one CPU, one thread)`,
      value: `${bestPps.toLocaleString("en")} packets/s`,
      goal: `≥ ${GOAL_PPS.toLocaleString("en")} packets/s`,
      met: bestPps >= GOAL_PPS,
    },
    {
      figure: `${path}: first rate with loss (pinned)`,
      value:
        failed === undefined
          ? "none up to the highest rate tried"
          : `${failed.achievedPps.toLocaleString("en")} packets/s`,
    },
    ...(twice === undefined
      ? []
      : [
          {
            figure: `${path}: twice the lossless limit (pinned), ${twice.targetPps.toLocaleString("en")} packets/s`,
            value: `${percent(twice.received, twice.sent)} read (${percent(twice.received - twice.receiverDrops, twice.sent)} processed), panics detected ${twice.panicsDetected}/${twice.panicsSent}`,
            goal: "every panic detected",
            met: twice.panicsDetected === twice.panicsSent,
          },
        ]),
    ...pinned.steps
      .filter((s) => !s.lossless)
      .map((s) => ({
        figure: `${path}: past the limit (pinned): ${s.targetPps.toLocaleString("en")} packets/s`,
        value: `${percent(s.received, s.sent)} read (${percent(s.received - s.receiverDrops, s.sent)} processed), panics detected ${s.panicsDetected}/${s.panicsSent}`,
        goal: "every panic detected",
        met: s.panicsDetected === s.panicsSent,
      })),
    ...shared.steps.map((s) => {
      const theirs = netconsd?.find((n) => n.targetPps === s.targetPps);
      const goal =
        path === "recvmmsg" && theirs !== undefined
          ? {
              goal: `processed ≥ netconsd's ${percent(theirs.processed, theirs.sent)}`,
              met:
                processedShare(s) >= theirs.processed / Math.max(1, theirs.sent) && s.panicsDetected === s.panicsSent,
            }
          : {};
      return {
        figure: `${path}: shared ${s.targetPps.toLocaleString("en")} packets/s, ${SHARED.threads} threads and the sender sharing ${availableParallelism()} CPUs (${SHARED_SOURCES} sources)`,
        value: `${percent(s.received, s.sent)} read, ${percent(s.received - s.receiverDrops, s.sent)} processed (${s.achievedPps.toLocaleString("en")} sent/s; panics ${s.panicsDetected}/${s.panicsSent})`,
        ...goal,
      };
    }),
    { figure: `${path}: sources tracked at the end (pinned)`, value: String(pinned.sources) },
  ];
}
