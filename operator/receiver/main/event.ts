// From a detected panic to the KernelPanicEvent object that records it: names derived deterministically, every
// field clamped to the CRD's limits (panics/event-fields.ts).
import { API_VERSION, KIND, LIMITS, type KernelPanicEvent, type StreamEvidence } from "../../api/kernelpanicevent.ts";
import { LABELS } from "../../api/keys.ts";
import { kernelPanicEventName } from "../../api/names.ts";
import { crashSignature } from "../../panics/signature.ts";
import { clamp, panicTextFields } from "../../panics/event-fields.ts";
import { whyBroken, type Continuity } from "../../panics/continuity.ts";
import type { PanicReport } from "../ingest-messages.ts";

/** Same-text panics of one host this far apart are different panics (a boot loop); closer, the same one. */
export const IDENTITY_BUCKET_MS = 10 * 60 * 1000;

export function toKernelPanicEvent(report: PanicReport, receivedBy: string): KernelPanicEvent {
  const name = kernelPanicEventName({
    hostIP: report.hostIP,
    firstLine: report.firstLine,
    ...(report.sequence === undefined ? {} : { sequence: report.sequence }),
    ...(report.uptimeMicros === undefined ? {} : { uptimeMicros: report.uptimeMicros }),
    ...(report.release === undefined ? {} : { release: report.release }),
    epochBucket: Math.floor(report.detectedAtMs / IDENTITY_BUCKET_MS),
  });
  const userdata = Object.entries(report.userdata)
    .filter(([key]) => key.length <= LIMITS.userdataKey)
    .slice(0, LIMITS.userdataEntries)
    .map(([key, value]) => [key, clamp(value, LIMITS.userdataValue)]);
  const signature = crashSignature(report);
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name, labels: { [LABELS.signature]: signature.id } },
    spec: {
      hostIP: report.hostIP,
      ...panicTextFields(report, signature),
      detectedTime: new Date(report.detectedAtMs).toISOString(),
      ...(report.sequence === undefined ? {} : { sequence: report.sequence }),
      ...(report.uptimeMicros === undefined ? {} : { uptimeSeconds: report.uptimeMicros / 1e6 }),
      ...(userdata.length === 0 ? {} : { userdata: Object.fromEntries(userdata) as Record<string, string> }),
      ...(report.continuity === undefined ? {} : { stream: streamEvidence(report.continuity) }),
      receivedBy: clamp(receivedBy, LIMITS.receivedBy),
    },
  };
}

function streamEvidence(continuity: Continuity): StreamEvidence {
  switch (continuity.kind) {
    case "continuous":
      return {
        continuity: "Continuous",
        node: clamp(continuity.anchor.node, LIMITS.nodeName),
        bootID: clamp(continuity.anchor.bootId, LIMITS.bootID),
        previousSequence: continuity.previousSequence,
        secondsSinceHeard: Math.max(0, continuity.sinceHeardMs) / 1000,
        driftMilliseconds: Math.round(continuity.driftMs),
      };
    case "broken":
      return {
        continuity: "Broken",
        message: clamp(whyBroken(continuity.last, continuity.next), LIMITS.streamMessage),
      };
    case "unanchored":
      return { continuity: "Unanchored" };
    case "plain":
      return { continuity: "Plain" };
  }
}
