// The annotations lastgasp leaves on the pods and the node it terminated: annotations rather than status, so
// that the rest of the object stays as it was, as history (the seed design's choice).
import type { KernelPanicEvent } from "../../api/kernelpanicevent.ts";
import { ANNOTATIONS, REASON_CODE, TERMINATED_BY } from "../../api/keys.ts";

export function terminationAnnotations(event: KernelPanicEvent, nodeName: string): Record<string, string> {
  return {
    [ANNOTATIONS.terminationReason]: `Node ${nodeName} had a kernel panic: ${event.spec.reason}`.slice(0, 1024),
    [ANNOTATIONS.terminationReasonCode]: REASON_CODE,
    [ANNOTATIONS.terminatedBy]: TERMINATED_BY,
    [ANNOTATIONS.kernelPanicEvent]: event.metadata.name,
  };
}
