// `lastgasp wait-daemonset NAME`: waits until every pod a DaemonSet should run is ready. The chart's uninstall
// hook runs it so that `helm uninstall` finishes only after the agent-remove DaemonSet has removed lastgasp's
// netconsole targets on every node (its pods are ready only once their remove step succeeded).
import { AppsV1Api, type V1DaemonSet } from "@kubernetes/client-node";
import { setTimeout as sleep } from "node:timers/promises";
import type { Command } from "./command.ts";
import { kubeconfigSetting } from "../config/common.ts";
import { describeSettings, integer, resolveSettings, text, type Setting } from "../config/settings.ts";
import { loadKubeConfig } from "../kube/kubeconfig.ts";
import { reportStartFailure } from "./run.ts";

const waitSettings = {
  namespace: {
    name: "namespace",
    description: "Namespace of the DaemonSet.",
    default: process.env.POD_NAMESPACE ?? "default",
    defaultText: "$POD_NAMESPACE or default",
    parse: text,
  } satisfies Setting<string>,
  timeoutSeconds: {
    name: "timeoutSeconds",
    description: "Give up (exit 1) after this long.",
    default: 300,
    parse: integer(1, 86_400),
  } satisfies Setting<number>,
  kubeconfig: kubeconfigSetting,
};

export const waitDaemonSetCommand: Command = {
  usage: `Usage: lastgasp wait-daemonset [options] NAME\n\n${describeSettings(waitSettings)}`,
  run: async (args) => {
    try {
      const { values, positionals } = resolveSettings(waitSettings, args, process.env);
      if (positionals.length !== 1) throw new Error("expected one DaemonSet NAME");
      return await waitReady(positionals[0]!, values);
    } catch (err) {
      return reportStartFailure("wait-daemonset", err);
    }
  },
};

/** Ready: the controller has seen the current spec and every scheduled pod is ready. */
export function daemonSetReady(ds: V1DaemonSet): boolean {
  const status = ds.status;
  if (status === undefined) return false;
  return (
    (status.observedGeneration ?? 0) >= (ds.metadata?.generation ?? 1) &&
    status.numberReady === status.desiredNumberScheduled
  );
}

async function waitReady(name: string, options: { namespace: string; timeoutSeconds: number; kubeconfig: string }) {
  const apps = loadKubeConfig(options.kubeconfig).makeApiClient(AppsV1Api);
  const deadline = Date.now() + options.timeoutSeconds * 1000;
  let last = "not read yet";
  while (Date.now() < deadline) {
    try {
      const ds = await apps.readNamespacedDaemonSet({ name, namespace: options.namespace });
      if (daemonSetReady(ds)) {
        process.stderr.write(`lastgasp wait-daemonset: ${name}: ${ds.status?.numberReady ?? 0} pods ready\n`);
        return 0;
      }
      last = `${ds.status?.numberReady ?? 0}/${ds.status?.desiredNumberScheduled ?? "?"} pods ready`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(2000);
  }
  process.stderr.write(`lastgasp wait-daemonset: ${name} not ready after ${options.timeoutSeconds} s (${last})\n`);
  return 1;
}
