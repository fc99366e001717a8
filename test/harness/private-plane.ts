// A control plane of a test file's own. Most files share the run's control plane (global-setup.ts); a file whose
// tests need what sharing cannot give (an API server they stop, a cluster whose node count the storm guard
// reads, no CRDs installed) starts its own through this helper, and says why.
import type { KubeConfig } from "@kubernetes/client-node";
import { before } from "node:test";
import { ControlPlane, type ControlPlaneOptions } from "./controlplane.ts";

export interface PrivatePlane {
  /** Resolves with the control plane once it runs: what the file's `before` awaits. */
  readonly ready: Promise<ControlPlane>;
  /** The running control plane (once `ready` resolved). */
  readonly plane: ControlPlane;
  /** Its admin credentials. */
  readonly kc: KubeConfig;
  /** Stops it: the last step of the file's `after`, once what talks to it has stopped. */
  stop(): Promise<void>;
}

/**
 * Starts a control plane before the calling suite's tests: the suite's own `before` awaits `ready` (node:test may
 * run a file's top-level `before` hooks together), and its `after` ends with `stop()`.
 */
export function privateControlPlane(why: string, options: ControlPlaneOptions = {}): PrivatePlane {
  let plane: ControlPlane | undefined;
  let kc: KubeConfig | undefined;
  const starting = Promise.withResolvers<ControlPlane>();
  // Awaited by the suite's `before`; a failed start fails that hook, not the process.
  starting.promise.catch(() => undefined);
  before(async () => {
    try {
      plane = await ControlPlane.start(options);
      kc = plane.adminKubeConfig();
      starting.resolve(plane);
    } catch (err) {
      starting.reject(err);
      throw err;
    }
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error(`the private control plane (${why}) is not started yet`);
    return value;
  };
  return {
    ready: starting.promise,
    get plane() {
      return started(plane);
    },
    get kc() {
      return started(kc);
    },
    stop: async () => {
      await starting.promise.catch(() => undefined);
      await plane?.stop();
    },
  };
}
