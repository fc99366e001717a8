// Where the operator's cluster credentials come from: --kubeconfig, then $KUBECONFIG, then the in-cluster
// ServiceAccount, then ~/.kube/config. Fails with a clear message instead of talking to nothing.
import { KubeConfig } from "@kubernetes/client-node";

export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (path !== undefined && path !== "") kc.loadFromFile(path);
    else if (process.env.KUBECONFIG === undefined && process.env.KUBERNETES_SERVICE_HOST !== undefined)
      kc.loadFromCluster();
    else kc.loadFromDefault();
  } catch (err) {
    throw new Error(`cannot load kubeconfig${path === undefined ? "" : ` ${path}`}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (kc.getCurrentCluster() === null) {
    throw new Error("no Kubernetes cluster configured: pass --kubeconfig, set KUBECONFIG, or run in a cluster");
  }
  return kc;
}
