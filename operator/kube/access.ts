// Can these credentials do the component's job? Asked of the API server itself with SelfSubjectAccessReviews
// (allowed to every authenticated user): at start, so that a missing or unusable kubeconfig is a clear error
// instead of a retry loop, and periodically for readiness.
import { AuthorizationV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { Cancel, Clock } from "../clock.ts";
import type { ApiCaller } from "./caller.ts";
import { classifyError, describe } from "./errors.ts";

/** One thing the component must be allowed to do, cluster-wide. */
export interface Permission {
  readonly verb: string;
  readonly resource: string;
  readonly group?: string;
  readonly subresource?: string;
}

/** Allowed, or why not (the server could not be used, or which permissions are missing). */
export type AccessResult = { readonly ok: true } | { readonly ok: false; readonly message: string };

function permissionText(p: Permission): string {
  const resource = p.subresource === undefined ? p.resource : `${p.resource}/${p.subresource}`;
  return `${p.verb} ${resource}${p.group === undefined || p.group === "" ? "" : `.${p.group}`}`;
}

function why(err: unknown): string {
  if (classifyError(err).class === "Unauthorized") return "it does not accept these credentials (401 Unauthorized)";
  return describe(err);
}

export class AccessCheck {
  private readonly api: AuthorizationV1Api;
  private readonly caller: ApiCaller;
  private readonly server: string;

  constructor(kc: KubeConfig, caller: ApiCaller) {
    this.api = kc.makeApiClient(AuthorizationV1Api);
    this.caller = caller;
    this.server = kc.getCurrentCluster()?.server ?? "(no server)";
  }

  async check(permissions: readonly Permission[]): Promise<AccessResult> {
    const missing: string[] = [];
    for (const p of permissions) {
      let allowed: boolean;
      try {
        allowed = await this.allowed(p);
      } catch (err) {
        return { ok: false, message: `cannot use the API server ${this.server}: ${why(err)}` };
      }
      if (!allowed) missing.push(permissionText(p));
    }
    if (missing.length === 0) return { ok: true };
    return {
      ok: false,
      message: `the credentials for ${this.server} may not ${missing.join(", ")} (check the ClusterRole and its binding)`,
    };
  }

  private async allowed(p: Permission): Promise<boolean> {
    const review = await this.caller.call(() =>
      this.api.createSelfSubjectAccessReview({
        body: {
          spec: {
            resourceAttributes: {
              verb: p.verb,
              resource: p.resource,
              group: p.group ?? "",
              ...(p.subresource === undefined ? {} : { subresource: p.subresource }),
            },
          },
        },
      }),
    );
    return review.status?.allowed === true;
  }
}

/** At start: throws a clear error when the API server cannot be used or the credentials cannot do the job. */
export async function requireAccess(check: AccessCheck, permissions: readonly Permission[]): Promise<void> {
  const result = await check.check(permissions);
  if (!result.ok) throw new Error(result.message);
}

/**
 * Readiness: the last access check, repeated every `intervalMs`, succeeded. A component that cannot reach the
 * API server, or has lost its permissions, takes no traffic (the receiver's Service stops sending it packets
 * whose panics it could not record).
 */
export class AccessMonitor {
  private last: AccessResult = { ok: true };
  private cancel: Cancel | undefined;
  private stopped = false;
  private readonly check: Pick<AccessCheck, "check">;
  private readonly permissions: readonly Permission[];
  private readonly intervalMs: number;
  private readonly onChange: (result: AccessResult) => void;
  private readonly clock: Clock;

  /** Starts ready: constructed after requireAccess passed. */
  constructor(
    check: Pick<AccessCheck, "check">,
    permissions: readonly Permission[],
    intervalMs: number,
    onChange: (result: AccessResult) => void,
    clock: Clock,
  ) {
    this.clock = clock;
    this.check = check;
    this.permissions = permissions;
    this.intervalMs = intervalMs;
    this.onChange = onChange;
  }

  get ready(): boolean {
    return this.last.ok;
  }

  start(): void {
    const again = () => {
      if (this.stopped) return;
      this.cancel = this.clock.setTimeout(() => {
        void this.check
          .check(this.permissions)
          .then((result) => {
            if (result.ok !== this.last.ok) this.onChange(result);
            this.last = result;
          })
          .finally(again);
      }, this.intervalMs);
    };
    again();
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
  }
}
