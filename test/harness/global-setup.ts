// node:test global setup for the integration tier: one control plane per run, shared by the test files
// (each file runs in its own process and finds the cluster through LASTGASP_TEST_KUBECONFIG).
// Set LASTGASP_TEST_KUBECONFIG yourself (e.g. to .testenv/kubeconfig after `make testenv-up`) to reuse a
// running control plane instead.
import { ControlPlane } from "./controlplane.ts";

let plane: ControlPlane | undefined;

export async function globalSetup(): Promise<void> {
  if (process.env.LASTGASP_TEST_KUBECONFIG !== undefined) return;
  const started = Date.now();
  plane = await ControlPlane.start({ controllerManager: true, scheduler: true, kwok: true });
  process.env.LASTGASP_TEST_KUBECONFIG = plane.kubeconfigPath;
  process.stderr.write(`test control plane ready in ${Date.now() - started} ms at ${plane.state.server}\n`);
}

export async function globalTeardown(): Promise<void> {
  await plane?.stop();
}
