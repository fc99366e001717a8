// The Helm chart on a control plane of a test file's own, which starts without the CRD (the chart installs it):
// helm against it, the chart's directory, and rendered manifests as plain objects. What test/integration/chart
// and chart-agent share.
import { loadAllYaml, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { before } from "node:test";
import { ensureBinaries, required } from "./binaries.ts";
import type { ControlPlane } from "./controlplane.ts";
import { privateControlPlane } from "./private-plane.ts";

export const chartDir = fileURLToPath(new URL("../../charts/lastgasp", import.meta.url));
export const CHART_NAMESPACE = "lastgasp-system";
const exec = promisify(execFile);

/** Rendered manifests as plain objects (client-node's loader makes class instances). */
export function plainYaml(text: string): KubernetesObject[] {
  return JSON.parse(JSON.stringify(loadAllYaml(text))) as KubernetesObject[];
}

export interface ChartPlane {
  /** Resolves once the control plane runs and helm is built: what the file's `before` awaits. */
  readonly ready: Promise<void>;
  readonly plane: ControlPlane;
  readonly admin: KubeConfig;
  readonly runHelm: (...args: string[]) => Promise<{ stdout: string; stderr: string }>;
  /** The last step of the file's `after`. */
  stop(): Promise<void>;
}

export function chartPlane(options: { kwok?: boolean } = {}): ChartPlane {
  const own = privateControlPlane("the chart installs the CRD: this cluster starts without it", {
    ...options,
    crdDir: mkdtempSync(join(tmpdir(), "no-crds-")),
  });
  let helm: string | undefined;
  const built = Promise.withResolvers<string>();
  built.promise.catch(() => undefined);
  before(async () => {
    try {
      helm = required(await ensureBinaries(["helm"]), "HELM");
      built.resolve(helm);
    } catch (err) {
      built.reject(err);
      throw err;
    }
  });
  const ready = Promise.all([built.promise, own.ready]).then(() => undefined);
  ready.catch(() => undefined); // awaited by the file's `before`, which fails with it
  return {
    ready,
    get plane() {
      return own.plane;
    },
    get admin() {
      return own.kc;
    },
    runHelm: async (...args) => {
      if (helm === undefined) throw new Error("helm is not built yet");
      return exec(helm, [...args, "--kubeconfig", own.plane.kubeconfigPath], { maxBuffer: 16 << 20 });
    },
    stop: () => own.stop(),
  };
}
