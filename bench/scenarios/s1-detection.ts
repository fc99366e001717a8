// S1 detection → record: panics from distinct 127.0.0.x sources, each timed from its panic line's datagram to
// the KernelPanicEvent appearing on a watch.
import { setTimeout as delay } from "node:timers/promises";
import { waitFor } from "../../test/harness/wait.ts";
import { logDir } from "../lib/logs.ts";
import { RAW_PIPELINE, startReceiver } from "../lib/operator.ts";
import { sendPanic, type PanicEnding, type PanicSpec } from "../lib/panics.ts";
import { watchRecordings, type Recordings } from "../lib/recordings.ts";
import { ms, withControlPlane, type Scenario, type ScenarioResult } from "../lib/scenario.ts";
import { roundDistribution, summarize } from "../lib/stats.ts";

const GOAL_P99_MS = 250;

export const s1: Scenario = {
  id: "S1",
  title: "detection → record",
  run: async (ctx) =>
    withControlPlane({}, async (plane) => {
      const panics = ctx.quick ? 40 : 200;
      // Paced below the receiver's write rate (20/s): this measures latency, not a queue (S3 is the storm).
      const intervalMs = 100;
      const receiver = await startReceiver({
        kubeconfig: plane.kubeconfigPath,
        flags: RAW_PIPELINE,
        dir: logDir("S1"),
      });
      const recordings = await watchRecordings(plane.adminKubeConfig());
      try {
        ctx.log(`S1: ${panics} panics, one every ${intervalMs} ms`);
        const coldMs = await firstPanic(recordings, receiver.udpPort);
        const latencies = await measure(recordings, receiver.udpPort, panics, intervalMs);
        return report(latencies, coldMs, await receiver.metric("lastgasp_receiver_drops_total"));
      } finally {
        recordings.stop();
        await receiver.stop();
      }
    }),
};

interface Latency {
  readonly ending: PanicEnding;
  readonly ms: number;
}

/**
 * The first panic a receiver records pays for its cold start (compiling the client's code, the first TLS
 * connection): reported on its own, not mixed into the distribution of a receiver that has been running.
 */
async function firstPanic({ recordedAt }: Recordings, port: number): Promise<number> {
  const ip = "127.0.0.254";
  const sentAt = await sendPanic({ mode: "extended", ending: "hang" }, ip, port);
  return (await waitFor(() => recordedAt.get(ip), { what: "the first KernelPanicEvent", timeoutMs: 30_000 })) - sentAt;
}

async function measure(
  { recordedAt }: Recordings,
  port: number,
  panics: number,
  intervalMs: number,
): Promise<Latency[]> {
  const sent: { ip: string; ending: PanicEnding; at: Promise<number> }[] = [];
  for (let i = 0; i < panics; i++) {
    const ip = `127.0.0.${2 + i}`;
    // Half reboot (the kernel's last line, `Rebooting in N seconds..`, completes the context), half hang (the end
    // marker does); plain and extended.
    const spec: PanicSpec = { mode: i % 2 === 0 ? "extended" : "plain", ending: i % 4 < 2 ? "reboot" : "hang" };
    sent.push({ ip, ending: spec.ending, at: sendPanic(spec, ip, port) });
    await delay(intervalMs);
  }
  await waitFor(() => recordedAt.size >= panics + 1, { what: `${panics} KernelPanicEvents`, timeoutMs: 30_000 });
  return await Promise.all(sent.map(async (s) => ({ ending: s.ending, ms: recordedAt.get(s.ip)! - (await s.at) })));
}

function report(latencies: Latency[], coldMs: number, drops: number): ScenarioResult {
  const all = roundDistribution(summarize(latencies.map((l) => l.ms)));
  const by = (ending: PanicEnding) =>
    roundDistribution(summarize(latencies.filter((l) => l.ending === ending).map((l) => l.ms)));
  const reboot = by("reboot");
  const hang = by("hang");
  return {
    figures: {
      panics: latencies.length,
      firstPanicMs: Math.round(coldMs),
      latencyMs: all,
      rebootLatencyMs: reboot,
      hangLatencyMs: hang,
      drops,
    },
    rows: [
      { figure: `panic → KernelPanicEvent p50 (${all.count} panics)`, value: ms(all.p50) },
      {
        figure: "panic → KernelPanicEvent p99",
        value: ms(all.p99),
        goal: `≤ ${GOAL_P99_MS} ms`,
        met: all.p99 <= GOAL_P99_MS,
      },
      {
        figure: "  rebooting kernel (its `Rebooting in` line) p50 / p99",
        value: `${ms(reboot.p50)} / ${ms(reboot.p99)}`,
      },
      { figure: "  hanging kernel (end marker) p50 / p99", value: `${ms(hang.p50)} / ${ms(hang.p99)}` },
      { figure: "first panic after the receiver started (cold)", value: ms(coldMs) },
      { figure: "receiver drops", value: String(drops) },
    ],
  };
}
