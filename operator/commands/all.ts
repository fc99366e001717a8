// `lastgasp all`: receiver and reconciler in one process, for small clusters. Options of both are accepted;
// the reconciler's HTTP endpoint is --reconciler-http-address (default 0.0.0.0:8081).
import type { Command } from "./command.ts";
import { reconcilerSettings } from "../config/reconciler.ts";
import { receiverSettings } from "../config/receiver.ts";
import { describeSettings, resolveOptions, type Setting } from "../config/settings.ts";
import { loadKubeConfig } from "../kube/kubeconfig.ts";
import { createLogger } from "../log.ts";
import { launchReceiver } from "./receiver.ts";
import { launchReconciler } from "./reconciler.ts";
import { runUntilSignalled } from "./run.ts";

// Settings both components have (kubeconfig, logLevel, logFormat) come from the receiver's list; the reconciler's HTTP
// address gets a name of its own.
const { httpAddress: reconcilerHttp, ...reconcilerRest } = reconcilerSettings;
const shared = new Set(Object.keys(receiverSettings));
const reconcilerOnly = Object.fromEntries(Object.entries(reconcilerRest).filter(([key]) => !shared.has(key))) as Omit<
  typeof reconcilerRest,
  "kubeconfig" | "logLevel" | "logFormat"
>;
const allSettings = {
  ...receiverSettings,
  ...reconcilerOnly,
  reconcilerHttpAddress: { ...reconcilerHttp, name: "reconcilerHttpAddress" } satisfies Setting<string>,
};

export const allCommand: Command = {
  usage: `Usage: lastgasp all [options]\n\n${describeSettings(allSettings)}`,
  run: async (args) =>
    runUntilSignalled("all", async () => {
      const config = resolveOptions(allSettings, args, process.env);
      const kc = loadKubeConfig(config.kubeconfig);
      const receiver = await launchReceiver(config, kc);
      const reconciler = await launchReconciler(
        { ...config, httpAddress: config.reconcilerHttpAddress },
        kc,
        createLogger(config.logLevel, "reconciler", { format: config.logFormat }),
      ).catch(async (err: unknown) => {
        await receiver.stop();
        throw err;
      });
      return async () => {
        await receiver.stop();
        await reconciler.stop();
      };
    }),
};
