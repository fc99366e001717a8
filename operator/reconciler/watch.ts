// Watches KernelPanicEvents with client-node's informer (list, then watch from the list's resourceVersion;
// it re-lists by itself on 410 Gone). client-node does not restart after other errors: this does, with
// backoff, and re-delivers every cached object periodically (resync) so nothing is left behind.
import {
  makeInformer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from "@kubernetes/client-node";
import { GROUP, PLURAL, VERSION, type KernelPanicEvent } from "../api/kernelpanicevent.ts";
import type { ClusterReader } from "../kube/reader.ts";
import { describe } from "../kube/errors.ts";
import type { Logger } from "../log.ts";

export interface WatchOptions {
  readonly resyncMs: number;
  readonly onRestart: () => void;
}

export interface EventWatch {
  stop(): Promise<void>;
}

const MAX_BACKOFF_MS = 30_000;

export async function watchKernelPanicEvents(
  kc: KubeConfig,
  reader: ClusterReader,
  onEvent: (event: KernelPanicEvent) => void,
  options: WatchOptions,
  log: Logger,
): Promise<EventWatch> {
  // Custom objects arrive as plain JSON (timestamps are strings), not client-node's typed models.
  const list = async (): Promise<KubernetesListObject<KubernetesObject>> => {
    const { items, resourceVersion } = await reader.listKernelPanicEvents();
    return {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: "KernelPanicEventList",
      metadata: { resourceVersion },
      items: items as unknown as KubernetesObject[],
    };
  };
  const informer = makeInformer<KubernetesObject>(kc, `/apis/${GROUP}/${VERSION}/${PLURAL}`, list);
  const deliver = (obj: KubernetesObject) => {
    onEvent(obj as unknown as KernelPanicEvent);
  };
  let stopped = false;
  let backoffMs = 500;
  let restartTimer: NodeJS.Timeout | undefined;
  informer.on("add", deliver);
  informer.on("update", deliver);
  informer.on("connect", () => {
    backoffMs = 500;
  });
  informer.on("error", (err: unknown) => {
    if (stopped) return;
    options.onRestart();
    log.warn("KernelPanicEvent watch failed; restarting", { error: describe(err), retryInMs: backoffMs });
    restartTimer = setTimeout(() => {
      informer.start().catch((e: unknown) => log.warn("KernelPanicEvent watch restart failed", { error: describe(e) }));
    }, backoffMs);
    backoffMs = Math.min(MAX_BACKOFF_MS, backoffMs * 2);
  });
  const resync = setInterval(() => {
    for (const event of informer.list()) deliver(event);
  }, options.resyncMs);
  await informer.start();
  return {
    stop: async () => {
      stopped = true;
      clearInterval(resync);
      clearTimeout(restartTimer);
      await informer.stop();
    },
  };
}
