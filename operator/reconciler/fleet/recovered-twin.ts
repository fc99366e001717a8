// A panic recovered after the reboot (pstore, kdump) that netconsole already carried: the same panic recorded
// twice. It is the same when the node is the same (the recovered event's node, checked at admission against the
// agent's token, and the node the netconsole event was resolved to), the panic line is the same, and the kernel's
// own console timestamp of that line is the same: both copies carry the printk timestamp of one line, to the
// microsecond. Without timestamps (plain netconsole without them), the same line within the identity window.

import type { KernelPanicEvent } from "../../api/kernelpanicevent.ts";
import { isRecovered } from "../../api/kernelpanicevent.ts";

/** Same-text panics of one node this far apart without timestamps are different panics (as the receiver's names). */
export const TWIN_WINDOW_MS = 10 * 60 * 1000;

export function netconsoleTwin(
  recovered: KernelPanicEvent,
  events: readonly KernelPanicEvent[],
): KernelPanicEvent | undefined {
  const nodeName = recovered.spec.nodeName;
  if (nodeName === undefined || nodeName === "") return undefined;
  return events.find(
    (e) =>
      !isRecovered(e.spec) &&
      e.status?.nodeName === nodeName &&
      e.spec.firstLine === recovered.spec.firstLine &&
      sameMoment(e, recovered),
  );
}

function sameMoment(heard: KernelPanicEvent, kept: KernelPanicEvent): boolean {
  const a = heard.spec.uptimeSeconds;
  const b = kept.spec.uptimeSeconds;
  if (a !== undefined && b !== undefined) return Math.round(a * 1e6) === Math.round(b * 1e6);
  return Math.abs(Date.parse(heard.spec.detectedTime) - Date.parse(kept.spec.detectedTime)) <= TWIN_WINDOW_MS;
}
