// A detected panic's fields as a KernelPanicEvent stores them: every string and list clamped to the CRD's limits
// (a kernel line can be longer than we store; the API must never refuse a panic). The receiver and the agent's
// recovered panics write the same fields the same way.
import { LIMITS, type KernelPanicEventSpec } from "../api/kernelpanicevent.ts";
import type { CrashSignature } from "./signature.ts";

export function clamp(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** What any source knows of a panic's text. */
export interface PanicText {
  readonly firstLine: string;
  readonly reason: string;
  readonly cause?: string;
  readonly contextLines: readonly string[];
  readonly release?: string;
}

/** The spec fields that come from the panic's text and its signature. */
export function panicTextFields(
  panic: PanicText,
  signature: CrashSignature,
): Pick<KernelPanicEventSpec, "firstLine" | "reason" | "cause" | "contextLines" | "release" | "signature"> {
  return {
    firstLine: clamp(panic.firstLine, LIMITS.firstLine),
    reason: clamp(panic.reason, LIMITS.reason),
    ...(panic.cause === undefined ? {} : { cause: clamp(panic.cause, LIMITS.cause) }),
    contextLines: panic.contextLines.slice(-LIMITS.contextLines).map((line) => clamp(line, LIMITS.contextLine)),
    ...(panic.release === undefined ? {} : { release: clamp(panic.release, LIMITS.release) }),
    signature: {
      id: signature.id,
      title: clamp(signature.title, LIMITS.signatureTitle),
      frames: signature.frames.slice(0, LIMITS.signatureFrames).map((f) => clamp(f, LIMITS.signatureFrame)),
    },
  };
}
