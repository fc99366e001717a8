// `lastgasp agent`: keeps this node's netconsole targets pointing at the receivers (run by the chart's
// DaemonSet, one per node). `--once` configures and exits; `--remove` removes lastgasp's targets and exits.
import { systemClock } from "../clock.ts";
import type { Command } from "./command.ts";
import { NetconsoleAgent } from "../agent/netconsole-agent.ts";
import { udpReporter } from "../agent/report.ts";
import { NetconsoleConfigfs } from "../agent/configfs.ts";
import { PathResolver } from "../agent/route.ts";
import { agentSettings } from "../config/agent.ts";
import { ConfigError, describeSettings, resolveOptions } from "../config/settings.ts";
import { createLogger, type Logger } from "../log.ts";
import { CoverageReporter } from "../agent/last-words-coverage.ts";
import { LastWordsJob } from "../agent/last-words-job.ts";
import { ReportedRecords } from "../agent/reported-records.ts";
import type { AgentConfig } from "../agent/netconsole-agent.ts";
import type { ClusterWriter } from "../kube/writer.ts";
import { defaultPatternsFile, loadPatterns } from "../panics/detector/patterns.ts";
import { reportStartFailure, runUntilSignalled } from "./run.ts";

const MODES = ["--once", "--remove"] as const;

export const agentCommand: Command = {
  usage: `Usage: lastgasp agent [--once | --remove] [options]

Keeps netconsole targets named lastgasp (lastgasp-2, … for further receivers) in configfs pointing at the
receivers, along the route and next-hop MAC the kernel would use, and writes a self-test line to the kernel log
after each change and every selfTestIntervalSeconds. On SIGTERM the targets stay in place. With lastWords, it
also reports each panic this node kept in pstore or kdump (one netconsole did not carry) as a KernelPanicEvent.
  --once     configure (and self-test) once, report what the node kept, then exit: 0 when every target is in place.
  --remove   remove lastgasp's targets, then exit.

Every option can also be set with the environment variable shown.

${describeSettings(agentSettings)}`,
  run: async (args) => {
    const mode = MODES.find((m) => args.includes(m));
    const rest = args.filter((a) => !(MODES as readonly string[]).includes(a));
    if (mode !== undefined && MODES.every((m) => args.includes(m)))
      return reportStartFailure("agent", new ConfigError(["--once and --remove exclude each other"]));
    if (mode === undefined) return runUntilSignalled("agent", () => startAgent(rest));
    try {
      return await runOnce(mode, rest);
    } catch (err) {
      return reportStartFailure("agent", err);
    }
  },
};

function createAgent(
  args: string[],
  needsReceivers = true,
): { agent: NetconsoleAgent; log: Logger; config: AgentConfig } {
  const config = resolveOptions(agentSettings, args, process.env);
  if (needsReceivers && config.receivers.length === 0)
    throw new ConfigError(["no receivers: set --receivers (LASTGASP_RECEIVERS) to host:port of each receiver"]);
  const log = createLogger(config.logLevel, "agent", { format: config.logFormat });
  const agent = new NetconsoleAgent(config, {
    configfs: new NetconsoleConfigfs(config.configfsRoot),
    resolver: new PathResolver({ neighbourTimeoutMs: config.neighbourTimeoutMs }),
    log,
    clock: systemClock,
    reportUnavailable: udpReporter(config.receivers, config.sourceIp === "" ? undefined : config.sourceIp),
  });
  return { agent, log, config };
}

/** Agent API calls are rare (a few creates per boot): a gentle rate, generous timeout. */
const AGENT_API = { qps: 2, burst: 5, requestTimeoutMs: 15_000, throttleRetries: 3 };

/**
 * The Kubernetes client, loaded only here: an agent without lastWords never loads it (on a node that is a third
 * of the start-up time and memory).
 */
async function agentWriter(config: AgentConfig): Promise<ClusterWriter> {
  const [{ ApiCaller }, { loadKubeConfig }, { ClusterWriter }] = await Promise.all([
    import("../kube/caller.ts"),
    import("../kube/kubeconfig.ts"),
    import("../kube/writer.ts"),
  ]);
  return new ClusterWriter(loadKubeConfig(config.kubeconfig), new ApiCaller(AGENT_API, systemClock), {
    dryRun: false,
    component: "lastgasp-agent",
  });
}

/**
 * The recovery of kept panics, when it is on and the agent has credentials. Without them netconsole still gets
 * configured: the agent says why it cannot report, and goes on.
 */
async function lastWordsJob(config: AgentConfig, log: Logger): Promise<LastWordsJob | undefined> {
  if (!config.lastWords) return undefined;
  let writer: ClusterWriter;
  try {
    writer = await agentWriter(config);
  } catch (err) {
    log.warn("Cannot report panics kept in pstore or kdump", { error: (err as Error).message });
    return undefined;
  }
  return new LastWordsJob(
    {
      places: { pstoreDir: config.pstoreDir, pstoreArchiveDir: config.pstoreArchiveDir, kdumpDir: config.kdumpDir },
      node: { nodeName: config.nodeName, hostIP: config.sourceIp, receivedBy: `agent/${config.nodeName}` },
      detection: {
        patterns: loadPatterns(config.patternsFile === "" ? defaultPatternsFile : config.patternsFile),
        options: { contextLines: config.contextLines, quietMs: 0, deadlineMs: 0, duplicateWindowMs: 0 },
      },
      sink: writer,
      reported: loadReported(config.reportedFile, log),
      erasePstore: config.erasePstore,
      log,
    },
    new CoverageReporter({ sysRoot: config.sysRoot, nodeName: config.nodeName, writer, log }),
    systemClock,
  );
}

function loadReported(path: string, log: Logger): ReportedRecords {
  try {
    return ReportedRecords.load(path);
  } catch (err) {
    log.warn("Cannot read which panics were reported; starting afresh", { path, error: (err as Error).message });
    return ReportedRecords.empty(path);
  }
}

async function startAgent(args: string[]): Promise<() => Promise<void>> {
  const { agent, log, config } = createAgent(args);
  agent.start();
  const lastWords = await lastWordsJob(config, log);
  lastWords?.start(config.checkIntervalSeconds * 1000);
  log.info("Started agent");
  return async () => {
    await Promise.all([agent.stop(), lastWords?.stop()]);
    log.info("Stopped agent; netconsole targets left in place");
  };
}

async function runOnce(mode: (typeof MODES)[number], args: string[]): Promise<number> {
  const { agent, log, config } = createAgent(args, mode !== "--remove");
  if (mode === "--remove") {
    const removed = await agent.remove();
    log.info("Removed lastgasp's netconsole targets", { removed });
    return 0;
  }
  try {
    const result = await agent.check();
    log.info("Checked netconsole targets", { ...result });
  } finally {
    // What the node kept is reported even when netconsole cannot be set up here.
    await (await lastWordsJob(config, log))?.runOnce();
  }
  return 0;
}
