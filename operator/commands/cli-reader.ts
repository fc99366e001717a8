// How the one-shot commands that read the cluster for a person (coverage, why) reach it: a small API budget,
// patient with a slow or throttling API server.
import { systemClock } from "../clock.ts";
import { ApiCaller } from "../kube/caller.ts";
import { loadKubeConfig } from "../kube/kubeconfig.ts";
import { ClusterReader } from "../kube/reader.ts";

export function cliReader(kubeconfig: string): ClusterReader {
  const caller = new ApiCaller({ qps: 5, burst: 10, requestTimeoutMs: 30_000, throttleRetries: 3 }, systemClock);
  return new ClusterReader(loadKubeConfig(kubeconfig), caller);
}
