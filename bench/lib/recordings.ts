// When each KernelPanicEvent appeared, by host IP, as a client of the apiserver saw it.
import type { KubeConfig } from "@kubernetes/client-node";
import { GROUP, PLURAL, VERSION, type KernelPanicEvent } from "../../operator/api/kernelpanicevent.ts";
import { watchFrom } from "./cluster.ts";

export interface Recordings {
  /** performance.now() at which the first KernelPanicEvent of each host IP appeared. */
  readonly recordedAt: ReadonlyMap<string, number>;
  stop(): void;
}

export async function watchRecordings(kc: KubeConfig): Promise<Recordings> {
  const recordedAt = new Map<string, number>();
  const watch = await watchFrom<KernelPanicEvent>(kc, `/apis/${GROUP}/${VERSION}/${PLURAL}`, {}, (type, kpe, at) => {
    if (type === "ADDED" && !recordedAt.has(kpe.spec.hostIP)) recordedAt.set(kpe.spec.hostIP, at);
  });
  return { recordedAt, stop: watch.stop };
}
