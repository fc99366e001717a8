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
import { createLogger } from "../log.ts";
import { reportStartFailure, runUntilSignalled } from "./run.ts";

const MODES = ["--once", "--remove"] as const;

export const agentCommand: Command = {
  usage: `Usage: lastgasp agent [--once | --remove] [options]

Keeps netconsole targets named lastgasp (lastgasp-2, … for further receivers) in configfs pointing at the
receivers, along the route and next-hop MAC the kernel would use, and writes a self-test line to the kernel log
after each change and every selfTestIntervalSeconds. On SIGTERM the targets stay in place.
  --once     configure (and self-test) once, then exit: 0 when every target is in place.
  --remove   remove lastgasp's targets, then exit.

Every option can also be set with the environment variable shown.

${describeSettings(agentSettings)}`,
  run: async (args) => {
    const mode = MODES.find((m) => args.includes(m));
    const rest = args.filter((a) => !(MODES as readonly string[]).includes(a));
    if (mode !== undefined && MODES.every((m) => args.includes(m)))
      return reportStartFailure("agent", new ConfigError(["--once and --remove exclude each other"]));
    if (mode === undefined) return runUntilSignalled("agent", () => Promise.resolve().then(() => startAgent(rest)));
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
): { agent: NetconsoleAgent; log: ReturnType<typeof createLogger> } {
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
  return { agent, log };
}

function startAgent(args: string[]): () => Promise<void> {
  const { agent, log } = createAgent(args);
  agent.start();
  log.info("Started agent");
  return async () => {
    await agent.stop();
    log.info("Stopped agent; netconsole targets left in place");
  };
}

async function runOnce(mode: (typeof MODES)[number], args: string[]): Promise<number> {
  const { agent, log } = createAgent(args, mode !== "--remove");
  if (mode === "--remove") {
    const removed = await agent.remove();
    log.info("Removed lastgasp's netconsole targets", { removed });
    return 0;
  }
  const result = await agent.check();
  log.info("Checked netconsole targets", { ...result });
  return 0;
}
