// Installs the CRDs that ship in crds/ (the very files the Helm chart carries) and waits until each is
// Established, so a test never races the apiserver's discovery.
import {
  ApiextensionsV1Api,
  KubernetesObjectApi,
  PatchStrategy,
  loadAllYaml,
  type KubeConfig,
  type V1CustomResourceDefinition,
} from "@kubernetes/client-node";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { waitFor } from "./wait.ts";

export function readCrds(dir: string): V1CustomResourceDefinition[] {
  if (!existsSync(dir)) return [];
  return (
    readdirSync(dir)
      .filter((f) => f.endsWith(".yaml") || f.endsWith(".yml"))
      .sort()
      // client-node's own loader: it maps JSON names (x-kubernetes-validations) to its model's, so that its
      // serializer sends them back. Plain YAML objects lose every field the serializer does not know.
      .flatMap((f) => loadAllYaml(readFileSync(join(dir, f), "utf8")) as V1CustomResourceDefinition[])
      .filter((crd) => crd.kind === "CustomResourceDefinition")
  );
}

export async function installCrds(kc: KubeConfig, dir: string): Promise<string[]> {
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const extensions = kc.makeApiClient(ApiextensionsV1Api);
  const crds = readCrds(dir);
  for (const crd of crds) {
    await objects.patch(crd, undefined, undefined, "lastgasp-test-harness", true, PatchStrategy.ServerSideApply);
  }
  const names = crds.map((crd) => crd.metadata?.name ?? "");
  for (const name of names) {
    await waitFor(
      async () => {
        const crd = await extensions.readCustomResourceDefinition({ name });
        return crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True");
      },
      { what: `CRD ${name} to be Established` },
    );
  }
  return names;
}
