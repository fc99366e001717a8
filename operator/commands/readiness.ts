// Both components' readiness check, as their composition roots build it: the permissions re-checked every
// ACCESS_CHECK_INTERVAL_MS, each change of verdict logged.
import type { Clock } from "../clock.ts";
import { AccessMonitor, type AccessCheck, type Permission } from "../kube/access.ts";
import type { Logger } from "../log.ts";
import { ACCESS_CHECK_INTERVAL_MS } from "./tuning.ts";

export function readinessMonitor(
  access: AccessCheck,
  permissions: readonly Permission[],
  log: Logger,
  clock: Clock,
): AccessMonitor {
  return new AccessMonitor(
    access,
    permissions,
    ACCESS_CHECK_INTERVAL_MS,
    (result) => {
      if (result.ok) log.info("API access restored: ready");
      else log.error("API access check failed: not ready", { error: result.message });
    },
    clock,
  );
}
