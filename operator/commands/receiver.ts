// `lastgasp receiver`: hears netconsole traffic and records each kernel panic as a KernelPanicEvent.
import type { KubeConfig } from "@kubernetes/client-node";
import type { Command } from "./command.ts";
import { receiverSettings } from "../config/receiver.ts";
import { describeSettings, resolveOptions } from "../config/settings.ts";
import { loadKubeConfig } from "../kube/kubeconfig.ts";
import { ApiCaller } from "../kube/caller.ts";
import { ClusterReader } from "../kube/reader.ts";
import { ClusterWriter } from "../kube/writer.ts";
import { createLogger } from "../log.ts";
import { defaultPatternsFile, loadPatterns } from "../receiver/detector/patterns.ts";
import { coverageCluster } from "../receiver/coverage.ts";
import { Receiver, type ReceiverConfig } from "../receiver/receiver.ts";
import { runUntilSignalled } from "./run.ts";

export const receiverCommand: Command = {
  usage: `Usage: lastgasp receiver [options]\n\nEvery option can also be set with the environment variable shown.\n\n${describeSettings(receiverSettings)}`,
  run: async (args) =>
    runUntilSignalled("receiver", async () => {
      const config = resolveOptions(receiverSettings, args, process.env);
      const receiver = await launchReceiver(config, loadKubeConfig(config.kubeconfig));
      return async () => receiver.stop();
    }),
};

/**
 * The receiver as the commands run it (`receiver` and `all`). Its panic writes are rare and retried by its
 * recorder, so a modest rate and no retries of 429 inside the caller. Coverage (a read and a write per node and
 * self-test interval) has a caller of its own, so that it never delays a panic's record.
 */
export async function launchReceiver(config: ReceiverConfig, kc: KubeConfig): Promise<Receiver> {
  const patterns = loadPatterns(config.patternsFile === "" ? defaultPatternsFile : config.patternsFile);
  const caller = new ApiCaller({ qps: 20, burst: 50, requestTimeoutMs: 10_000, throttleRetries: 0 });
  const writer = new ClusterWriter(kc, caller, { dryRun: false, component: "lastgasp-receiver" });
  const coverageCaller = new ApiCaller({ qps: 50, burst: 100, requestTimeoutMs: 10_000, throttleRetries: 0 });
  const coverage = coverageCluster(
    new ClusterReader(kc, coverageCaller),
    new ClusterWriter(kc, coverageCaller, { dryRun: false, component: "lastgasp-receiver" }),
  );
  const reader = new ClusterReader(kc, caller);
  const nodeAddresses = async () => reader.listNodeAddresses();
  return Receiver.start(
    config,
    patterns,
    { writer, coverage, nodeAddresses },
    createLogger(config.logLevel, "receiver"),
  );
}
