// Kubeconfigs for the test control plane: the admin's, and one per minted ServiceAccount token.
import { reuseConnections } from "../../operator/kube/kubeconfig.ts";
import { KubeConfig } from "@kubernetes/client-node";
import { stringify } from "yaml";

export interface ClusterEndpoint {
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** Base64 PEM bundle that verifies the apiserver's self-signed serving certificate. */
  readonly caData: string;
}

export function kubeconfigYaml(endpoint: ClusterEndpoint, user: string, token: string, namespace = "default"): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      { name: "lastgasp-test", cluster: { server: endpoint.server, "certificate-authority-data": endpoint.caData } },
    ],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: user, context: { cluster: "lastgasp-test", user, namespace } }],
    "current-context": user,
  });
}

/** A client configuration as the operator builds one: with its connections reused (see reuseConnections). */
export function kubeConfigFromYaml(yaml: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(yaml);
  return reuseConnections(kc);
}

/** The server and CA of a KubeConfig's current cluster. */
export function endpointOf(kc: KubeConfig): ClusterEndpoint {
  const cluster = kc.getCurrentCluster();
  if (cluster?.caData === undefined)
    throw new Error("kubeconfig has no current cluster with certificate-authority-data");
  return { server: cluster.server, caData: cluster.caData };
}
