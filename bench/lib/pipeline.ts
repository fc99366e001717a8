// The whole lastgasp pipeline as a benchmark drives it: a receiver and a reconciler (separate processes) on a
// control plane, and a watch that timestamps each KernelPanicEvent's arrival by host IP.
import type { ControlPlane } from "../../test/harness/controlplane.ts";
import { startReceiver, startReconciler, type OperatorProcess } from "./operator.ts";
import { watchRecordings } from "./recordings.ts";

/** Opens the storm guard: these scenarios measure speed, and S3 is a storm on purpose. */
export const OPEN_STORM_GUARD = ["--storm-max-nodes", "100000", "--storm-max-percent", "100"];

export interface Pipeline {
  readonly receiver: OperatorProcess;
  readonly reconciler: OperatorProcess;
  /** performance.now() at which the KernelPanicEvent of each host IP appeared. */
  readonly recordedAt: ReadonlyMap<string, number>;
  stop(): Promise<void>;
}

export async function startPipeline(
  plane: ControlPlane,
  options: { dir: string; reconcilerFlags: readonly string[]; receiverHost?: string },
): Promise<Pipeline> {
  const kubeconfig = plane.kubeconfigPath;
  const recordings = await watchRecordings(plane.adminKubeConfig());
  const receiver = await startReceiver({
    kubeconfig,
    dir: options.dir,
    ...(options.receiverHost === undefined ? {} : { listenHost: options.receiverHost }),
  });
  const reconciler = await startReconciler({ kubeconfig, dir: options.dir, flags: options.reconcilerFlags });
  return {
    receiver,
    reconciler,
    recordedAt: recordings.recordedAt,
    stop: async () => {
      recordings.stop();
      await Promise.all([receiver.stop(), reconciler.stop()]);
    },
  };
}
