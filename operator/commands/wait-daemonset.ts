// `lastgasp wait-daemonset NAME`: waits until every pod a DaemonSet should run is ready. The chart's uninstall
// hook runs it so that `helm uninstall` finishes only after the agent-remove DaemonSet has removed lastgasp's
// netconsole targets on every node (its pods are ready only once their remove step succeeded). A node that cannot
// run that pod (full, cordoned, tainted against it) must not wedge the uninstall: the chart passes
// --fail-on-timeout=false, so after the timeout it says how many nodes were left and succeeds.
import { systemClock } from "../clock.ts";
import type { V1DaemonSet } from "@kubernetes/client-node";
import type { Command } from "./command.ts";
import { kubeconfigSetting } from "../config/common.ts";
import { boolean, describeSettings, integer, resolveSettings, text, type Setting } from "../config/settings.ts";
import { ApiCaller } from "../kube/caller.ts";
import { loadKubeConfig } from "../kube/kubeconfig.ts";
import { ClusterReader } from "../kube/reader.ts";
import { reportStartFailure } from "./run.ts";

/** How often the DaemonSet is read: a one-off hook, so a gentle fixed rate. */
const POLL_INTERVAL_MS = 2000;
/** One read that takes longer than this is abandoned and counted as a failed poll. */
const REQUEST_TIMEOUT_MS = 10_000;

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
    description: "Give up after this long.",
    default: 300,
    parse: integer(1, 86_400),
  } satisfies Setting<number>,
  failOnTimeout: {
    name: "failOnTimeout",
    description: "Exit 1 when the timeout passes; false: say what was left undone and exit 0.",
    default: true,
    parse: boolean,
  } satisfies Setting<boolean>,
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

async function waitReady(
  name: string,
  options: { namespace: string; timeoutSeconds: number; failOnTimeout: boolean; kubeconfig: string },
) {
  const clock = systemClock;
  const caller = new ApiCaller({ qps: 1, burst: 2, requestTimeoutMs: REQUEST_TIMEOUT_MS, throttleRetries: 3 }, clock);
  const reader = new ClusterReader(loadKubeConfig(options.kubeconfig), caller);
  const deadline = clock.monotonicMs() + options.timeoutSeconds * 1000;
  const say = (text: string) =>
    process.stderr.write(`lastgasp wait-daemonset: ${options.namespace}/${name}: ${text}\n`);
  let last = "not read yet";
  while (clock.monotonicMs() < deadline) {
    try {
      const ds = await reader.getDaemonSet(options.namespace, name);
      // The hook creates the DaemonSet before this Job: if it is gone, waiting longer cannot help.
      if (ds === undefined) {
        say("DaemonSet not found");
        return 1;
      }
      if (daemonSetReady(ds)) {
        say(`${ds.status?.numberReady ?? 0} pods ready`);
        return 0;
      }
      last = `${ds.status?.numberReady ?? 0}/${ds.status?.desiredNumberScheduled ?? "?"} pods ready`;
    } catch (err) {
      last = (err as Error).message;
    }
    await clock.sleep(Math.min(POLL_INTERVAL_MS, Math.max(0, deadline - clock.monotonicMs())));
  }
  if (options.failOnTimeout) {
    say(`not ready after ${options.timeoutSeconds} s (${last})`);
    return 1;
  }
  say(
    `gave up after ${options.timeoutSeconds} s (${last}): the nodes whose pod is not ready keep their netconsole targets; list them with kubectl get pods -n ${options.namespace} -o wide -l app.kubernetes.io/component=agent-remove before the hook deletes the DaemonSet, or remove the targets by hand (docs/agent.md)`,
  );
  return 0;
}
