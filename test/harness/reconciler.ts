// Runs the real reconciler in-process against a test control plane.
import type { KubeConfig } from "@kubernetes/client-node";
import { reconcilerSettings } from "../../operator/config/reconciler.ts";
import { resolveSettings } from "../../operator/config/settings.ts";
import { createLogger } from "../../operator/log.ts";
import { Reconciler } from "../../operator/reconciler/reconciler.ts";

/** Starts a reconciler with the defaults plus `flags`; its HTTP endpoint on an ephemeral loopback port. */
export async function startTestReconciler(kc: KubeConfig, flags: string[] = []): Promise<Reconciler> {
  const { values } = resolveSettings(reconcilerSettings, ["--http-address", "127.0.0.1:0", ...flags], {});
  return Reconciler.start(kc, values, createLogger(process.env.LASTGASP_TEST_LOG ?? "silent", "reconciler"));
}
