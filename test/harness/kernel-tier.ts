// What every test file of the real-kernel tier shares: a control plane with kwok, the real receiver listening on
// the tap's host address, the real reconciler, and the checks that a guest's panic was recorded and remediated.
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import assert from "node:assert/strict";
import type { KernelPanicEvent } from "../../operator/api/kernelpanicevent.ts";
import type { Reconciler } from "../../operator/reconciler/loop/controller.ts";
import type { Receiver } from "../../operator/receiver/main/service.ts";
import { ControlPlane } from "./controlplane.ts";
import { tierNetwork, type TierNetwork } from "./guests.ts";
import { listKernelPanicEvents, startTestReceiver } from "./receiver.ts";
import { startTestReconciler } from "./reconciler.ts";
import { waitFor } from "./wait.ts";
import { podsOn } from "./workloads.ts";

export interface KernelTier {
  readonly net: TierNetwork;
  readonly plane: ControlPlane;
  readonly kc: KubeConfig;
  readonly receiver: Receiver;
  /** The receiver's UDP port on the tap's host address. */
  readonly port: number;
  readonly reconciler: Reconciler;
  stop(): Promise<void>;
}

/**
 * `reconcilerFlags` are added to the reconciler's (no election, the storm guard open). `apiServerOnTap`: the API
 * server listens on the tap's host address, where guests reach it (a guest's agent that creates events).
 */
export async function startKernelTier(
  reconcilerFlags: readonly string[] = [],
  options: { readonly apiServerOnTap?: boolean } = {},
): Promise<KernelTier> {
  const net = tierNetwork();
  const plane = await ControlPlane.start({
    kwok: true,
    ...(options.apiServerOnTap === true ? { apiserver: { address: net.hostIp } } : {}),
  });
  const kc = plane.adminKubeConfig();
  const { receiver } = await startTestReceiver(kc, ["--listen", `${net.hostIp}:0`]);
  const reconciler = await startTestReconciler(kc, [
    "--leader-elect",
    "false",
    "--storm-max-percent",
    "100",
    ...reconcilerFlags,
  ]);
  return {
    net,
    plane,
    kc,
    receiver,
    port: receiver.udpPorts[0]!,
    reconciler,
    stop: async () => {
      await reconciler.stop();
      await receiver.stop();
      await plane.stop();
    },
  };
}

/** The KernelPanicEvent from `ip`, once the receiver has recorded it. */
export async function eventFrom(kc: KubeConfig, ip: string, diagnosis: string): Promise<KernelPanicEvent> {
  return waitFor(async () => (await listKernelPanicEvents(kc)).find((e) => e.spec.hostIP === ip), {
    what: `a KernelPanicEvent from ${ip} (${diagnosis})`,
    timeoutMs: 15_000,
  });
}

/**
 * The event's node was remediated: the event says so, the pods it had when the panic was recorded are gone, and
 * the Node is deleted. (A DaemonSet's controller re-creates its pod on the node until the Node is gone; that pod
 * never ran, and the pod GC removes it once the Node is deleted: not the reconciler's to explain.)
 */
export async function assertRemediated(kc: KubeConfig, event: KernelPanicEvent, nodeName: string): Promise<void> {
  await waitFor(
    async () =>
      (await listKernelPanicEvents(kc))
        .find((e) => e.metadata.name === event.metadata.name)
        ?.status?.conditions?.some((cond) => cond.type === "Remediated" && cond.status === "True"),
    { what: `${nodeName} remediated`, timeoutMs: 60_000 },
  );
  const recorded = new Date(event.metadata.creationTimestamp ?? 0).getTime();
  const left = (await podsOn(kc, nodeName)).filter((p) => (p.metadata?.creationTimestamp?.getTime() ?? 0) <= recorded);
  assert.deepEqual(
    left.map((p) => p.metadata?.name),
    [],
  );
  await assert.rejects(
    kc.makeApiClient(CoreV1Api).readNode({ name: nodeName }),
    (err: { code?: number }) => err.code === 404,
  );
}
