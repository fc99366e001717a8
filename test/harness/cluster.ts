// What an integration test uses to reach the shared control plane started by global-setup.ts.
import type { KubeConfig } from "@kubernetes/client-node";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { kubeConfigFromYaml } from "./kubeconfig.ts";

export function testKubeconfigPath(): string {
  const path = process.env.LASTGASP_TEST_KUBECONFIG;
  if (path === undefined) {
    throw new Error(
      "LASTGASP_TEST_KUBECONFIG is not set: run integration tests with `npm run test:integration` (or `make test`)",
    );
  }
  return path;
}

/** The admin's client configuration for the shared test control plane. */
export function adminKubeConfig(): KubeConfig {
  return kubeConfigFromYaml(readFileSync(testKubeconfigPath(), "utf8"));
}

/** A name no other test in this run uses, for namespaces, nodes and the like. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}
