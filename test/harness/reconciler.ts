// Runs the real reconciler in-process against a test control plane, wired by its own composition root.
import type { KubeConfig } from "@kubernetes/client-node";
import { launchReconciler } from "../../operator/commands/reconciler.ts";
import { reconcilerSettings } from "../../operator/config/reconciler.ts";
import { resolveSettings } from "../../operator/config/settings.ts";
import { Writable } from "node:stream";
import winston from "winston";
import { createLogger, type Logger } from "../../operator/log.ts";
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

/**
 * Starts a reconciler with the defaults plus `flags`; its HTTP endpoint on an ephemeral loopback port. Its logs
 * are silent (LASTGASP_TEST_LOG sets a level), or go to `log` when given.
 */
export async function startTestReconciler(
  kc: KubeConfig,
  flags: string[] = [],
  log: Logger = createLogger(process.env.LASTGASP_TEST_LOG ?? "silent", "reconciler"),
): Promise<Reconciler> {
  const { values } = resolveSettings(reconcilerSettings, ["--http-address", "127.0.0.1:0", ...flags], {});
  return launchReconciler(values, kc, log);
}

/** A logger keeping every entry it is given (JSON-ready objects), for tests that read the logs. */
export function recordingLogger(component: string): { log: Logger; entries: Record<string, unknown>[] } {
  const entries: Record<string, unknown>[] = [];
  const log = winston.createLogger({
    level: "debug",
    defaultMeta: { component },
    transports: [
      new winston.transports.Stream({
        stream: new Writable({
          objectMode: true,
          write(entry: Record<string, unknown>, _encoding, done) {
            entries.push(entry);
            done();
          },
        }),
      }),
    ],
  });
  return { log, entries };
}
