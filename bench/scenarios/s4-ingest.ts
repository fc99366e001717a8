// S4 ingest: netconsole chatter from 5,000 loopback sources (extended and plain) with panics mixed in, at
// rising rates, in two modes. "pinned": the receiver (one receive thread) on one CPU and the generator on the
// other; the highest rate with zero loss: every datagram sent counted by the receiver, no socket drop
// (/proc/net/udp), no drop of the receiver's own, and every panic detected. "shared": the receiver with its
// default receive threads (one per CPU) and the generator sharing every CPU, as on a busy node; the share of
// datagrams received and the panics detected at each rate.
import { availableParallelism } from "node:os";
import { setTimeout as delay } from "node:timers/promises";
import { waitFor } from "../../test/harness/wait.ts";
import { startLoadGenerator, type LoadGenerator } from "../lib/loadgen.ts";
import { logDir } from "../lib/logs.ts";
import { RAW_PIPELINE, startReceiver, type OperatorProcess } from "../lib/operator.ts";
import { udpSocketDrops } from "../lib/procfs.ts";
import { metricSum } from "../lib/prometheus.ts";
import { withControlPlane, type Row, type Scenario } from "../lib/scenario.ts";

const SOURCES = 5000;
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
  readonly receiverCpu?: number;
  readonly senderCpu?: number;
}

const PINNED: Mode = { name: "pinned", threads: 1, receiverCpu: 0, senderCpu: 1 };
const SHARED: Mode = { name: "shared", threads: availableParallelism() };

export const s4: Scenario = {
  id: "S4",
  title: "ingest",
  run: async (ctx) =>
    withControlPlane({}, async (plane) => {
      const durationMs = ctx.quick ? 2000 : 10_000;
      const pinnedRates = ctx.quick
        ? [50_000, 100_000, 150_000]
        : [25_000, 50_000, 75_000, 100_000, 125_000, 150_000, 200_000, 250_000];
      const sharedRates = ctx.quick ? [100_000, 150_000] : [50_000, 100_000, 150_000, 200_000];
      const run = async (mode: Mode, rates: readonly number[]) => {
        const receiver = await startReceiver({
          kubeconfig: plane.kubeconfigPath,
          flags: [...RAW_PIPELINE, "--receive-threads", String(mode.threads)],
          dir: logDir(`S4-${mode.name}`),
          ...(mode.receiverCpu === undefined ? {} : { cpu: mode.receiverCpu }),
        });
        const generator = await startLoadGenerator(receiver.udpPort, SOURCES, 4, mode.senderCpu);
        try {
          const steps: Step[] = [];
          for (const [i, rate] of rates.entries()) {
            const panicSources = Array.from({ length: PANICS_PER_STEP }, (_, k) => i * PANICS_PER_STEP + k);
            steps.push(await step(receiver, generator, { rate, durationMs, panicSources }));
            const s = steps.at(-1)!;
            ctx.log(`S4 ${mode.name} (${mode.threads} threads): ${rate} pps target, ${describeStep(s)}`);
          }
          return { steps, sources: await receiver.metric("lastgasp_receiver_sources") };
        } finally {
          generator.stop();
          await receiver.stop();
        }
      };
      const pinned = await run(PINNED, pinnedRates);
      const shared = await run(SHARED, sharedRates);
      return report(pinned, shared, durationMs);
    }),
};

function describeStep(s: Step): string {
  const share = `${percent(s.received, s.sent)} read, ${percent(s.received - s.receiverDrops, s.sent)} processed`;
  if (s.lossless) return `${s.achievedPps} sent/s: no loss`;
  return `${s.achievedPps} sent/s: LOSS, ${share} (${s.socketDrops} socket drops, ${s.receiverDrops} receiver drops, ${s.panicsDetected}/${s.panicsSent} panics)`;
}

/** The goals for the shared mode: ahead of Meta's netconsd on the same machine. */
function sharedGoal(rate: number, share: number): { goal?: string; met?: boolean } {
  const goal = rate === 150_000 ? 0.95 : rate === 200_000 ? 0.94 : undefined;
  return goal === undefined ? {} : { goal: `≥ ${goal * 100} %`, met: share >= goal };
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

function report(
  pinned: { steps: Step[]; sources: number },
  shared: { steps: Step[]; sources: number },
  durationMs: number,
) {
  // The lossless limit: the last rate before the first loss (later rates, past it, still count their panics).
  const firstLoss = pinned.steps.findIndex((s) => !s.lossless);
  const best = (firstLoss === -1 ? pinned.steps : pinned.steps.slice(0, firstLoss)).at(-1);
  const bestPps = best?.achievedPps ?? 0;
  const failed = pinned.steps.find((s) => !s.lossless);
  const all = [...pinned.steps, ...shared.steps];
  const rows: Row[] = [
    {
      figure: `highest sustained rate without loss (${SOURCES} sources, ${durationMs / 1000} s per step, receiver on one CPU, one thread)`,
      value: `${bestPps.toLocaleString("en")} packets/s`,
      goal: `≥ ${GOAL_PPS.toLocaleString("en")} packets/s`,
      met: bestPps >= GOAL_PPS,
    },
    {
      figure: "first rate with loss (pinned)",
      value:
        failed === undefined
          ? "none up to the highest rate tried"
          : `${failed.achievedPps.toLocaleString("en")} packets/s`,
    },
    ...pinned.steps
      .filter((s) => !s.lossless)
      .map((s) => ({
        figure: `past the limit (pinned): ${s.targetPps.toLocaleString("en")} packets/s`,
        value: `${percent(s.received, s.sent)} read (${percent(s.received - s.receiverDrops, s.sent)} processed), panics detected ${s.panicsDetected}/${s.panicsSent}`,
        goal: "every panic detected",
        met: s.panicsDetected === s.panicsSent,
      })),
    ...shared.steps.map((s) => ({
      figure: `received at ${s.targetPps.toLocaleString("en")} packets/s, ${SHARED.threads} threads and the sender sharing ${availableParallelism()} CPUs`,
      value: `${percent(s.received, s.sent)} read, ${percent(s.received - s.receiverDrops, s.sent)} processed (${s.achievedPps.toLocaleString("en")} sent/s; panics ${s.panicsDetected}/${s.panicsSent})`,
      ...sharedGoal(s.targetPps, s.received / Math.max(1, s.sent)),
    })),
    {
      figure: "panics detected / sent (all steps, both modes)",
      value: `${all.reduce((a, s) => a + s.panicsDetected, 0)} / ${all.reduce((a, s) => a + s.panicsSent, 0)}`,
    },
    { figure: "sources tracked at the end (pinned)", value: String(pinned.sources) },
  ];
  return {
    figures: {
      sources: SOURCES,
      stepSeconds: durationMs / 1000,
      losslessPps: bestPps,
      steps: pinned.steps,
      shared: { threads: SHARED.threads, steps: shared.steps },
    },
    rows,
  };
}
