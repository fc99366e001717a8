// From a log the node kept (pstore, kdump) to the KernelPanicEvent that records its panic. The same detector as
// the receiver's reads it, so a recovered panic gets the same reason, cause and signature as one heard over
// netconsole. One log is one crashed boot's tail: its first panic is the panic, and a later `Kernel panic - not
// syncing` line in it (a console replay of the same report) is not another one.
import { createHash } from "node:crypto";
import { API_VERSION, KIND, LIMITS, type KernelPanicEvent } from "../api/kernelpanicevent.ts";
import { LABELS } from "../api/keys.ts";
import type { DetectorOptions } from "../panics/detector/detector.ts";
import type { DetectionPatterns } from "../panics/detector/patterns.ts";
import { clamp, panicTextFields } from "../panics/event-fields.ts";
import { scanLog } from "../panics/scan.ts";
import { crashSignature } from "../panics/signature.ts";
import type { KeptLog } from "./kept-logs.ts";

/** Who recovered it: the node, its address, and the name written into spec.receivedBy. */
export interface RecoveringNode {
  readonly nodeName: string;
  readonly hostIP: string;
  readonly receivedBy: string;
}

export interface RecoveredPanic {
  readonly event: KernelPanicEvent;
  readonly log: KeptLog;
}

/** The panic in a kept log, as the event to create; undefined when the log holds none (an Oops dump, a reboot). */
export function recoverPanic(
  log: KeptLog,
  node: RecoveringNode,
  detection: { readonly patterns: DetectionPatterns; readonly options: DetectorOptions },
): RecoveredPanic | undefined {
  const [panic] = scanLog(log.lines.join("\n"), detection.patterns, detection.options);
  if (panic === undefined) return undefined;
  const signature = crashSignature(panic);
  const name = recoveredEventName(node.nodeName, log.source, panic.firstLine, panic.uptimeMicros, panic.contextLines);
  const event: KernelPanicEvent = {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name, labels: { [LABELS.signature]: signature.id } },
    spec: {
      hostIP: clamp(node.hostIP, LIMITS.hostIP),
      ...panicTextFields(panic, signature),
      // The record's own time: ramoops stamps it at the dump, kdump's file is written seconds after.
      detectedTime: new Date(log.writtenAtMs).toISOString(),
      ...(panic.uptimeMicros === undefined ? {} : { uptimeSeconds: panic.uptimeMicros / 1e6 }),
      receivedBy: clamp(node.receivedBy, LIMITS.receivedBy),
      source: log.source,
      nodeName: node.nodeName,
    },
  };
  return { event, log };
}

/**
 * `<node>-<source>-<12 hex>`: the same record read again (after a restart, or a copy of it in systemd-pstore's
 * archive) gets the same name, so creating it twice is AlreadyExists; the record's text decides, not its files.
 */
export function recoveredEventName(
  nodeName: string,
  source: string,
  firstLine: string,
  uptimeMicros: number | undefined,
  contextLines: readonly string[],
): string {
  const slug = nodeName
    .toLowerCase()
    .replace(/[^0-9a-z.-]+/g, "-")
    .replace(/^[-.]+|[-.]+$/g, "")
    .slice(0, 200)
    .replace(/[-.]+$/, "");
  const hash = createHash("sha256")
    .update(JSON.stringify([nodeName, source, firstLine, uptimeMicros ?? null, contextLines]))
    .digest("hex")
    .slice(0, 12);
  return `${slug === "" ? "node" : slug}-${source}-${hash}`;
}
