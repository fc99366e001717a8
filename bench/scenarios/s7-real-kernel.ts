// S7 real kernel → record → remediated: Debian 6.12 kernels in QEMU guests (TCG), set up by the real agent,
// panic with sysrq; the receiver hears them from the guests' own addresses on a tap device. Measured by
// ../probes/real-kernel.ts inside the real-kernel tier's network namespace (hack/in-netns.sh, root).
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ensureKernel, KERNEL_6_12 } from "../../test/harness/kernels.ts";
import type { RealKernelRun } from "../probes/real-kernel.ts";
import { ms, seconds, type Scenario, type ScenarioResult } from "../lib/scenario.ts";
import { roundDistribution, summarize } from "../lib/stats.ts";

const probe = fileURLToPath(new URL("../probes/real-kernel.ts", import.meta.url));
const inNetns = fileURLToPath(new URL("../../hack/in-netns.sh", import.meta.url));

export const s7: Scenario = {
  id: "S7",
  title: "real kernel → record → remediated",
  run: async (ctx) => {
    // Downloaded here: the namespace the guests run in has no way out.
    ensureKernel(KERNEL_6_12);
    const runs = ctx.quick ? 2 : 5;
    ctx.log(`S7: ${runs} real 6.12 guests, each set up by the agent and panicked with sysrq`);
    return report(await runProbe(runs));
  },
};

async function runProbe(runs: number): Promise<RealKernelRun[]> {
  const child = spawn("bash", [inNetns, process.execPath, probe, String(runs)], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  const last = stdout.trim().split("\n").at(-1) ?? "";
  if (code !== 0 || !last.startsWith("[")) throw new Error(`the real-kernel probe failed (${code}): ${stderr.trim()}`);
  return JSON.parse(last) as RealKernelRun[];
}

function report(runs: RealKernelRun[]): ScenarioResult {
  const of = (pick: (r: RealKernelRun) => number) => roundDistribution(summarize(runs.map(pick)));
  const guest = of((r) => r.triggerToPanicGuestMs);
  const heard = of((r) => r.goToHeardMs);
  const recorded = of((r) => r.heardToRecordedMs);
  const remediated = of((r) => r.heardToRemediatedMs);
  const pair = (d: { p50: number; max: number }, unit: (v: number) => string) => `${unit(d.p50)} / ${unit(d.max)}`;
  return {
    figures: { panics: runs.length, runs, guest, heard, recorded, remediated },
    rows: [
      { figure: `panics (real 6.12 guests, agent-configured)`, value: String(runs.length) },
      { figure: "sysrq trigger → panic line, guest clock p50 / max", value: pair(guest, ms) },
      { figure: "go → panic line heard (incl. the guest's 200 ms poll) p50 / max", value: pair(heard, ms) },
      { figure: "panic line heard → KernelPanicEvent p50 / max", value: pair(recorded, ms) },
      { figure: "panic line heard → Remediated (lease check on) p50 / max", value: pair(remediated, seconds) },
    ],
  };
}
