// S8 the image: what users install. The project's Dockerfile built here (hack/image/build.sh), its size, and the
// receiver, the reconciler and the agent run in it as the chart runs them, measured by their containers' memory cgroups:
// idle, and the receiver under S5's worst case at 1 to 16 CPUs. A container here gets at most this machine's 2
// CPUs: past that the CPU count only chooses the receive threads (receiveThreads: as many as the memory limit
// has room for), so those rows run the threads the default would choose and say so.
import { availableParallelism } from "node:os";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { receiveThreads } from "../../operator/commands/receiver.ts";
import type { ControlPlane } from "../../test/harness/controlplane.ts";
import { buildImage, containersUnavailable, startInContainer, type CgroupMemory } from "../lib/container.ts";
import { startLoadGenerator } from "../lib/loadgen.ts";
import { RAW_PIPELINE } from "../lib/operator.ts";
import { withControlPlane, type Scenario } from "../lib/scenario.ts";
import { CHART_NODE_FLAGS, CHART_RECEIVER_LIMIT_MIB, CPU_COUNTS, IDLE_SETTLE_MS, WORST_SOURCES } from "./s5-memory.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const IMAGE = "localhost/lastgasp:bench";
/** Issue 29's goals: the first image measured here was 320 MB, its receiver 138 MB idle with one thread. */
const GOAL_IMAGE_MB = 320;
const GOAL_RECEIVER_IDLE_MB = 138;
/** The chart's reconciler and agent limits (charts/lastgasp/values.yaml). */
const CHART_RECONCILER_LIMIT_MIB = 256;
const CHART_AGENT_LIMIT_MIB = 128;
const MIB = 2 ** 20;

export const s8: Scenario = {
  id: "S8",
  title: "the image",
  run: async (ctx) => {
    const missing = await containersUnavailable();
    if (missing !== undefined) {
      ctx.log(`S8: skipped: ${missing}`);
      return { figures: { skipped: missing }, rows: [{ figure: "the image", value: `not built: ${missing}` }] };
    }
    const built = await buildImage(root, IMAGE);
    ctx.log(`S8: ${IMAGE} is ${(built.bytes / 1e6).toFixed(0)} MB`);
    const floodMs = ctx.quick ? 10_000 : 60_000;
    const measured = await withControlPlane({}, (plane) => inContainers(plane, floodMs, ctx.log));
    const mb = (mib: number) => `${((mib * MIB) / 1e6).toFixed(1)} MB`;
    return {
      figures: { imageBytes: built.bytes, ...measured },
      rows: [
        {
          figure: "image size (uncompressed, as docker images reports it)",
          value: `${(built.bytes / 1e6).toFixed(0)} MB`,
          goal: `< ${GOAL_IMAGE_MB} MB`,
          met: built.bytes / 1e6 < GOAL_IMAGE_MB,
        },
        {
          figure: "receiver idle in its container (memcg; the chart's limit and NODE_OPTIONS, one receive thread)",
          value: mb(measured.receiverIdle.usageMiB),
          goal: `< ${GOAL_RECEIVER_IDLE_MB} MB`,
          met: (measured.receiverIdle.usageMiB * MIB) / 1e6 < GOAL_RECEIVER_IDLE_MB,
        },
        {
          figure: "reconciler idle in its container (memcg; leading, no events)",
          value: mb(measured.reconcilerIdle.usageMiB),
          goal: `< ${CHART_RECONCILER_LIMIT_MIB} MiB (chart limit)`,
          met: measured.reconcilerIdle.usageMiB < CHART_RECONCILER_LIMIT_MIB,
        },
        {
          figure: "agent idle in its container (memcg; on this VM's kernel, which has no netconsole)",
          value: mb(measured.agentIdle.usageMiB),
          goal: `< ${CHART_AGENT_LIMIT_MIB} MiB (chart limit)`,
          met: measured.agentIdle.usageMiB < CHART_AGENT_LIMIT_MIB,
        },
        ...measured.byCpus.map((r) => ({
          figure: `receiver container at the chart's defaults on ${r.cpus} CPUs (${r.how}): idle, then a ${floodMs / 1000} s flood of the worst case`,
          value: `${r.idle.usageMiB} MiB idle; peak ${r.flooded.peakMiB} MiB${r.oomKilled ? "; OOM-killed" : ""}`,
          goal: `< ${CHART_RECEIVER_LIMIT_MIB} MiB (chart limit), never OOM-killed`,
          met: !r.oomKilled && r.flooded.peakMiB < CHART_RECEIVER_LIMIT_MIB,
        })),
      ],
    };
  },
};

interface ByCpus {
  readonly cpus: number;
  readonly how: string;
  readonly idle: CgroupMemory;
  readonly flooded: CgroupMemory;
  readonly oomKilled: boolean;
}

async function inContainers(plane: ControlPlane, floodMs: number, log: (m: string) => void) {
  const dir = mkdtempSync(join(tmpdir(), "lastgasp-s8-"));
  const base = {
    image: IMAGE,
    kubeconfig: plane.kubeconfigPath,
    dir,
    memoryLimitBytes: CHART_RECEIVER_LIMIT_MIB * MIB,
  };
  const receiverEnv = { NODE_OPTIONS: CHART_NODE_FLAGS.join(" ") };
  const reconciler = await startInContainer("reconciler", { ...base, cpuset: "0", flags: ["--leader-elect", "false"] });
  await sleep(IDLE_SETTLE_MS);
  const reconcilerIdle = reconciler.memory();
  await reconciler.stop();
  log(`S8: reconciler idle ${reconcilerIdle.usageMiB} MiB`);
  const agent = await startInContainer("agent", {
    ...base,
    memoryLimitBytes: CHART_AGENT_LIMIT_MIB * MIB,
    cpuset: "0",
  });
  await sleep(IDLE_SETTLE_MS);
  const agentIdle = agent.memory();
  await agent.stop();
  log(`S8: agent idle ${agentIdle.usageMiB} MiB`);

  const byCpus: ByCpus[] = [];
  let receiverIdle: CgroupMemory | undefined;
  const runs = new Map<string, Omit<ByCpus, "cpus" | "how">>();
  const machine = availableParallelism();
  for (const cpus of CPU_COUNTS) {
    // A container gets the CPUs it may run on: up to the machine's; beyond, the default's thread choice.
    const given = Math.min(cpus, machine);
    const threads = receiveThreads({ receiveThreads: 0, memoryLimitBytes: base.memoryLimitBytes }, cpus);
    // The same container (CPUs and threads) is measured once.
    const flags = ["--receive-threads", given === cpus ? "0" : String(threads)];
    const key = `${given}/${threads}`;
    const how =
      given === cpus
        ? `cpuset of ${given}, receive threads by default: ${threads}`
        : `cpuset of ${given} (the machine's), ${threads} receive thread${threads === 1 ? "" : "s"} as the default chooses at ${cpus}`;
    if (!runs.has(key)) {
      const receiver = await startInContainer("receiver", {
        ...base,
        cpuset: `0-${given - 1}`,
        env: receiverEnv,
        flags: [...RAW_PIPELINE, ...flags],
      });
      // The generator on the last CPU: with one CPU given, the receiver has its own.
      const generator = await startLoadGenerator(receiver.udpPort, WORST_SOURCES, 8, machine - 1);
      try {
        await sleep(IDLE_SETTLE_MS);
        const idle = receiver.memory();
        receiverIdle ??= idle;
        await generator.run({ rate: 50_000, durationMs: floodMs, panicSources: [], payload: "worst" });
        runs.set(key, { idle, flooded: receiver.memory(), oomKilled: await receiver.oomKilled() });
        log(`S8: receiver on ${how}: ${idle.usageMiB} MiB idle, peak ${receiver.memory().peakMiB} MiB`);
      } finally {
        generator.stop();
        await receiver.stop();
      }
    }
    byCpus.push({ cpus, how, ...runs.get(key)! });
  }
  return { reconcilerIdle, agentIdle, receiverIdle: receiverIdle!, byCpus };
}
