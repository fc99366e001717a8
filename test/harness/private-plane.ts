// A control plane of a test file's own. Most files share the run's control plane (global-setup.ts); a file whose
// tests need what sharing cannot give (an API server they stop, a cluster whose node count the storm guard
// reads, no CRDs installed) starts its own through this helper, and says why.
import type { KubeConfig } from "@kubernetes/client-node";
import { before } from "node:test";
import { ControlPlane, type ControlPlaneOptions } from "./controlplane.ts";

export interface PrivatePlane {
  /** The running control plane (from the file's first `before` on). */
  readonly plane: ControlPlane;
  /** Its admin credentials. */
  readonly kc: KubeConfig;
  /** Stops it: the last step of the file's `after`, once what talks to it has stopped. */
  stop(): Promise<void>;
}

/**
 * Starts a control plane before the calling suite's tests. Call it before the suite's own `before` hooks that use
 * it (hooks run in the order they are registered), and `stop()` it at the end of the suite's `after`.
 */
export function privateControlPlane(why: string, options: ControlPlaneOptions = {}): PrivatePlane {
  let plane: ControlPlane | undefined;
  let kc: KubeConfig | undefined;
  before(async () => {
    plane = await ControlPlane.start(options);
    kc = plane.adminKubeConfig();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error(`the private control plane (${why}) is not started yet`);
    return value;
  };
  return {
    get plane() {
      return started(plane);
    },
    get kc() {
      return started(kc);
    },
    stop: async () => {
      await plane?.stop();
    },
  };
}
