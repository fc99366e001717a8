// Where the operator's cluster credentials come from: --kubeconfig, then $KUBECONFIG, then the in-cluster
// ServiceAccount, then ~/.kube/config. Fails with a clear message instead of talking to nothing.
import { KubeConfig } from "@kubernetes/client-node";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (nothingToLoad(path))
    throw new Error(
      "no Kubernetes credentials: pass --kubeconfig, set KUBECONFIG, create ~/.kube/config, or run in a cluster",
    );
  try {
    if (path !== undefined && path !== "") kc.loadFromFile(path);
    else if (process.env.KUBECONFIG === undefined && process.env.KUBERNETES_SERVICE_HOST !== undefined)
      kc.loadFromCluster();
    else kc.loadFromDefault();
  } catch (err) {
    throw new Error(`cannot load the kubeconfig ${source(path)}: ${(err as Error).message}`, { cause: err });
  }
  const cluster = kc.getCurrentCluster();
  if (cluster === null) {
    throw new Error("no Kubernetes cluster configured: pass --kubeconfig, set KUBECONFIG, or run in a cluster");
  }
  if (cluster.server.startsWith("http://") && !cluster.skipTLSVerify)
    throw new Error(`the API server ${cluster.server} is plain HTTP, which the Kubernetes client refuses: use https`);
  return reuseConnections(kc);
}

/** Which file (or which source) the credentials were being loaded from, for the error message. */
function source(path: string | undefined): string {
  if (path !== undefined && path !== "") return path;
  const variable = process.env.KUBECONFIG ?? "";
  if (variable !== "") return `${variable} (from KUBECONFIG)`;
  if (process.env.KUBERNETES_SERVICE_HOST !== undefined)
    return `of the in-cluster ServiceAccount (${SERVICE_ACCOUNT_TOKEN})`;
  return join(homedir(), ".kube", "config");
}

/** With nothing to load, client-node would quietly talk to http://localhost:8080 (and refuse HTTP each time). */
function nothingToLoad(path: string | undefined): boolean {
  return (
    (path === undefined || path === "") &&
    (process.env.KUBECONFIG ?? "") === "" &&
    process.env.KUBERNETES_SERVICE_HOST === undefined &&
    !existsSync(join(homedir(), ".kube", "config")) &&
    !existsSync(SERVICE_ACCOUNT_TOKEN)
  );
}

type CreateDispatcher = (cluster: unknown, agentOptions: Record<string, unknown>) => unknown;

/**
 * client-node 2.0 builds a new connection pool (undici Agent) for every request, so every API call pays a
 * TCP and TLS handshake and a new TLS context: under load that costs more CPU than the requests themselves.
 * This keeps one pool per distinct set of TLS options (server, CA, client certificate), so connections are
 * kept alive and reused; credentials that change (a rotated certificate) get a pool of their own.
 * It replaces a private method: if a client-node upgrade renames it, requests still work, unpooled.
 */
export function reuseConnections(kc: KubeConfig): KubeConfig {
  const target = kc as unknown as { createDispatcher?: CreateDispatcher };
  const create = target.createDispatcher;
  if (typeof create !== "function") return kc;
  const pools = new Map<string, unknown>();
  target.createDispatcher = (cluster, agentOptions) => {
    const key = poolKey(cluster, agentOptions);
    if (!pools.has(key)) pools.set(key, create.call(kc, cluster, agentOptions));
    return pools.get(key);
  };
  return kc;
}

function poolKey(cluster: unknown, agentOptions: Record<string, unknown>): string {
  const text = (v: unknown) => (Buffer.isBuffer(v) ? v.toString("base64") : v);
  const options = Object.fromEntries(Object.entries(agentOptions).map(([k, v]) => [k, text(v)]));
  return createHash("sha256")
    .update(JSON.stringify([cluster, options]))
    .digest("hex");
}
