// Runs the real reconciler in-process against a test control plane, wired by its own composition root.
import type { KubeConfig } from "@kubernetes/client-node";
import { launchReconciler } from "../../operator/commands/reconciler.ts";
import { reconcilerSettings } from "../../operator/config/reconciler.ts";
import { resolveSettings } from "../../operator/config/settings.ts";
import { createLogger } from "../../operator/log.ts";
import type { Reconciler } from "../../operator/reconciler/loop/controller.ts";

/**
 * The storm guard lifted and the forgery hold out of the way: every forged event must face the corroboration
 * itself (a hold or a cap would refuse it for another reason).
 */
export const GUARDS_LIFTED = [
  "--storm-max-percent",
  "100",
  "--storm-max-nodes",
  "100000",
  "--forgery-threshold",
  "1000",
];

/** Starts a reconciler with the defaults plus `flags`; its HTTP endpoint on an ephemeral loopback port. */
export async function startTestReconciler(kc: KubeConfig, flags: string[] = []): Promise<Reconciler> {
  const { values } = resolveSettings(reconcilerSettings, ["--http-address", "127.0.0.1:0", ...flags], {});
  return launchReconciler(values, kc, createLogger(process.env.LASTGASP_TEST_LOG ?? "silent", "reconciler"));
}
