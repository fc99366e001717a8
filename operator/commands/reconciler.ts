// `lastgasp reconciler`: turns each KernelPanicEvent into failed, explained, removed pods and node.
import type { Command } from "./command.ts";
import { reconcilerSettings } from "../config/reconciler.ts";
import { describeSettings, resolveOptions } from "../config/settings.ts";
import { loadKubeConfig } from "../kube/kubeconfig.ts";
import { createLogger } from "../log.ts";
import { Reconciler } from "../reconciler/reconciler.ts";
import { runUntilSignalled } from "./run.ts";

export const reconcilerCommand: Command = {
  usage: `Usage: lastgasp reconciler [options]\n\nEvery option can also be set with the environment variable shown.\n\n${describeSettings(reconcilerSettings)}`,
  run: async (args) =>
    runUntilSignalled("reconciler", async () => {
      const config = resolveOptions(reconcilerSettings, args, process.env);
      const log = createLogger(config.logLevel, "reconciler");
      const reconciler = await Reconciler.start(loadKubeConfig(config.kubeconfig), config, log);
      return async () => reconciler.stop();
    }),
};
