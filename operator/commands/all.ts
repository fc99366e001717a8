// `lastgasp all`: receiver and reconciler in one process, for small clusters. Options of both are accepted;
// the reconciler's HTTP endpoint is --reconciler-http-address (default 0.0.0.0:8081).
import type { Command } from "../commands.ts";
import { reconcilerSettings } from "../config/reconciler.ts";
import { receiverSettings } from "../config/receiver.ts";
import { describeSettings, resolveSettings, type Setting } from "../config/settings.ts";
import { ApiCaller } from "../kube/caller.ts";
import { loadKubeConfig } from "../kube/kubeconfig.ts";
import { ClusterWriter } from "../kube/writer.ts";
import { createLogger } from "../log.ts";
import { Reconciler } from "../reconciler/reconciler.ts";
import { defaultPatternsFile, loadPatterns } from "../receiver/detector/patterns.ts";
import { Receiver } from "../receiver/receiver.ts";
import { runUntilSignalled } from "./run.ts";

// Settings both components have (kubeconfig, logLevel) come from the receiver's list; the reconciler's HTTP
// address gets a name of its own.
const { httpAddress: reconcilerHttp, ...reconcilerRest } = reconcilerSettings;
const shared = new Set(Object.keys(receiverSettings));
const reconcilerOnly = Object.fromEntries(Object.entries(reconcilerRest).filter(([key]) => !shared.has(key))) as Omit<
  typeof reconcilerRest,
  "kubeconfig" | "logLevel"
>;
const allSettings = {
  ...receiverSettings,
  ...reconcilerOnly,
  reconcilerHttpAddress: { ...reconcilerHttp, name: "reconcilerHttpAddress" } satisfies Setting<string>,
};

export const allCommand: Command = {
  name: "all",
  summary: "Run receiver and reconciler in one process (small clusters).",
  usage: `Usage: lastgasp all [options]\n\n${describeSettings(allSettings)}`,
  run: async (args) =>
    runUntilSignalled("all", async () => {
      const { values: config, positionals } = resolveSettings(allSettings, args, process.env);
      if (positionals.length > 0) throw new Error(`unexpected argument ${positionals[0]!}`);
      const kc = loadKubeConfig(config.kubeconfig);
      const patterns = loadPatterns(config.patternsFile === "" ? defaultPatternsFile : config.patternsFile);
      const caller = new ApiCaller({ qps: 20, burst: 50, requestTimeoutMs: 10_000, throttleRetries: 0 });
      const writer = new ClusterWriter(kc, caller, { dryRun: false, component: "lastgasp-receiver" });
      const receiver = await Receiver.start(config, patterns, writer, createLogger(config.logLevel, "receiver"));
      const reconciler = await Reconciler.start(
        kc,
        { ...config, httpAddress: config.reconcilerHttpAddress },
        createLogger(config.logLevel, "reconciler"),
      );
      return async () => {
        await receiver.stop();
        await reconciler.stop();
      };
    }),
};
