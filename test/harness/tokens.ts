// ServiceAccount tokens minted through the TokenRequest API: how a test runs code with exactly the RBAC it was
// granted (a narrow Role in a test, the Helm chart's ClusterRoles later).
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { endpointOf, kubeConfigFromYaml, kubeconfigYaml } from "./kubeconfig.ts";

export async function serviceAccountKubeConfig(
  admin: KubeConfig,
  namespace: string,
  name: string,
  expirationSeconds = 3600,
  /** The Pod the token is bound to, as a kubelet binds a pod's projected token (the API server adds its node). */
  boundTo?: { readonly name: string; readonly uid: string },
): Promise<KubeConfig> {
  return kubeConfigFromYaml(await serviceAccountKubeconfigYaml(admin, namespace, name, expirationSeconds, boundTo));
}

/** The same as a kubeconfig file's text, for a process elsewhere (a QEMU guest's agent). */
export async function serviceAccountKubeconfigYaml(
  admin: KubeConfig,
  namespace: string,
  name: string,
  expirationSeconds = 3600,
  boundTo?: { readonly name: string; readonly uid: string },
): Promise<string> {
  const core = admin.makeApiClient(CoreV1Api);
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } }).catch((err: unknown) => {
    if ((err as { code?: number }).code !== 409) throw err;
  });
  const request = await core.createNamespacedServiceAccountToken({
    namespace,
    name,
    body: {
      spec: {
        audiences: [],
        expirationSeconds,
        ...(boundTo === undefined ? {} : { boundObjectRef: { kind: "Pod", apiVersion: "v1", ...boundTo } }),
      },
    },
  });
  const token = request.status?.token;
  if (token === undefined) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
  return kubeconfigYaml(endpointOf(admin), `system:serviceaccount:${namespace}:${name}`, token, namespace);
}
