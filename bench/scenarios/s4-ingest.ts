// S4 ingest: netconsole chatter from 5,000 loopback sources (extended and plain) with panics mixed in, at
// rising rates, the receiver pinned to one CPU and the generator to the other. The highest rate with zero loss:
// every datagram sent counted by the receiver, no socket drop (/proc/net/udp), no drop of the receiver's own,
// and every panic detected.
import { setTimeout as delay } from "node:timers/promises";
import { waitFor } from "../../test/harness/wait.ts";
import { startLoadGenerator, type LoadGenerator } from "../lib/loadgen.ts";
import { logDir } from "../lib/logs.ts";
import { RAW_PIPELINE, startReceiver, type OperatorProcess } from "../lib/operator.ts";
import { udpSocketDrops } from "../lib/procfs.ts";
import { metricSum } from "../lib/prometheus.ts";
import { withControlPlane, type Row, type Scenario } from "../lib/scenario.ts";

const SOURCES = 5000;
const GOAL_PPS = 100_000;
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

export const s4: Scenario = {
  id: "S4",
  title: "ingest",
  run: async (ctx) =>
    withControlPlane({}, async (plane) => {
      const rates = ctx.quick
        ? [50_000, 100_000, 150_000]
        : [25_000, 50_000, 75_000, 100_000, 125_000, 150_000, 200_000, 250_000];
      const durationMs = ctx.quick ? 2000 : 10_000;
      const receiver = await startReceiver({
        kubeconfig: plane.kubeconfigPath,
        flags: RAW_PIPELINE,
        dir: logDir("S4"),
        cpu: 0,
      });
      const generator = await startLoadGenerator(receiver.udpPort, SOURCES, 4, 1);
      try {
        const steps: Step[] = [];
        for (const [i, rate] of rates.entries()) {
          const panicSources = Array.from({ length: PANICS_PER_STEP }, (_, k) => i * PANICS_PER_STEP + k);
          steps.push(await step(receiver, generator, { rate, durationMs, panicSources }));
          const s = steps.at(-1)!;
          ctx.log(
            `S4: ${rate} pps target, ${s.achievedPps} sent/s: ${s.lossless ? "no loss" : `LOSS (${s.sent - s.received} missing, ${s.socketDrops} socket drops, ${s.receiverDrops} receiver drops, ${s.panicsDetected}/${s.panicsSent} panics)`}`,
          );
          if (!s.lossless) break;
        }
        const sources = await receiver.metric("lastgasp_receiver_sources");
        return report(steps, sources, durationMs);
      } finally {
        generator.stop();
        await receiver.stop();
      }
    }),
};

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

function report(steps: Step[], sources: number, durationMs: number) {
  const best = steps.filter((s) => s.lossless).at(-1);
  const bestPps = best?.achievedPps ?? 0;
  const failed = steps.find((s) => !s.lossless);
  const rows: Row[] = [
    {
      figure: `highest sustained rate without loss (${SOURCES} sources, ${durationMs / 1000} s per step, receiver on one CPU)`,
      value: `${bestPps.toLocaleString("en")} packets/s`,
      goal: `≥ ${GOAL_PPS.toLocaleString("en")} packets/s`,
      met: bestPps >= GOAL_PPS,
    },
    {
      figure: "first rate with loss",
      value:
        failed === undefined
          ? "none up to the highest rate tried"
          : `${failed.achievedPps.toLocaleString("en")} packets/s`,
    },
    {
      figure: "panics detected / sent (all steps)",
      value: `${steps.reduce((a, s) => a + s.panicsDetected, 0)} / ${steps.reduce((a, s) => a + s.panicsSent, 0)}`,
    },
    { figure: "sources tracked at the end", value: String(sources) },
  ];
  return { figures: { sources: SOURCES, stepSeconds: durationMs / 1000, losslessPps: bestPps, steps }, rows };
}
