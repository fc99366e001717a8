// A crash signature: the same kernel bug gives the same signature on every node and every boot, so a fleet can
// count "this bug, on this release, N times" instead of reading N records. Built like syzkaller's crash titles:
// the kind of crash (the report's header with addresses, numbers and task names taken out) and the frame that
// names the bug, chosen by the kind's rule (guilty-frame.ts, docs/signatures.md). Nothing here depends on where
// in memory the kernel was.
import { createHash } from "node:crypto";
import { CHECKERS, guiltyFrames, type FrameRule } from "./guilty-frame.ts";
import { namedFunction, type CollectedFrames } from "./report-frames.ts";

export interface CrashSignature {
  /** 16 hex digits: a label value (`lastgasp.dev/signature`). */
  readonly id: string;
  /** Human-readable: `<kind> in <function>`, e.g. `BUG: kernel NULL pointer dereference in sysrq_handle_crash`. */
  readonly title: string;
  readonly kind: string;
  /** The guilty frame, then the meaningful frames below it (at most SIGNATURE_FRAMES). */
  readonly frames: readonly string[];
}

export interface SignatureInput extends CollectedFrames {
  readonly reason: string;
  readonly cause?: string;
}

/** Frames shown with the signature (the first one is part of it). */
export const SIGNATURE_FRAMES = 3;

export function crashSignature(input: SignatureInput): CrashSignature {
  const { kind, rule, alsoSkip } = crashKind(input);
  const header = namedFunction(input.cause ?? input.reason)?.name;
  const frames = guiltyFrames({
    rule,
    ...(header === undefined ? {} : { headerFunction: header }),
    ...(input.crashSite === undefined ? {} : { crashSite: input.crashSite }),
    frames: input.frames,
    ...(alsoSkip === undefined ? {} : { alsoSkip }),
  }).slice(0, SIGNATURE_FRAMES);
  const title = frames.length === 0 ? kind : `${kind} in ${frames[0]!}`;
  // The kind and the guilty frame: the callers below it differ between kernel builds (what got inlined), the
  // guilty frame of one bug does not.
  const id = createHash("sha256")
    .update([kind, frames[0] ?? ""].join("\n"))
    .digest("hex")
    .slice(0, 16);
  return { id, title, kind, frames };
}

interface Kind {
  readonly kind: string;
  readonly rule: FrameRule;
  readonly alsoSkip?: RegExp;
}

/** The report's header made address- and instance-free; the panic's own reason when no report preceded it. */
function crashKind(input: SignatureInput): Kind {
  if (input.cause === undefined) {
    // The scheduler found the stack's end overwritten: like a stall, the task is caught anywhere in its work.
    const rule = input.reason.startsWith("corrupted stack end") ? "stall" : "site";
    return { kind: `kernel panic: ${normalize(beforeFrame(input.reason))}`, rule };
  }
  const checker = CHECKERS.find((c) => input.cause!.startsWith("WARNING: ") && c.file.test(input.cause!));
  if (checker !== undefined) return { kind: checker.kind, rule: "site", alsoSkip: checker.own };
  for (const [pattern, kind, rule] of KIND_RULES) if (pattern.test(input.cause)) return { kind, rule };
  // Up to the first detail after a comma or the oops counter.
  return { kind: normalize(beforeFrame(input.cause).split(/, | \[#|: 0000/)[0]!), rule: "site" };
}

/** Headers whose variable part is not a number or an address: the kind of crash each names, and its frame rule. */
const KIND_RULES: readonly (readonly [RegExp, string, FrameRule])[] = [
  [/^WARNING: CPU: \d+ PID: \d+ at .*$/, "WARNING", "site"],
  [/^INFO: task .* blocked (?:in I\/O wait )?for more than .*$/, "INFO: task hung", "hung"],
  [/^(?:INFO: |rcu: INFO: )?rcu_\w+ (?:self-)?detected (?:expedited )?stalls?.*$/, "INFO: rcu detected stall", "stall"],
  [/^(?:watchdog: )?BUG: soft lockup.*$/, "BUG: soft lockup", "stall"],
  [/^(?:NMI )?[Ww]atchdog(?: detected)? hard LOCKUP.*$/, "hard LOCKUP", "stall"],
  [/^BUG: .*stack guard page was hit.*$/, "BUG: stack guard page was hit", "stall"],
  [/^BUG: scheduling while atomic.*$/, "BUG: scheduling while atomic", "site"],
  [/^.+ invoked oom-killer: .*$/, "invoked oom-killer", "site"],
];

/** Text up to the function it names (which becomes the first frame): `… in: ip6_xmit+0x…` → `… in`. */
function beforeFrame(text: string): string {
  const frame = namedFunction(text);
  const head = frame === undefined ? text : text.slice(0, frame.index);
  return head.replace(/[\s:]+$/, "").replace(/\s+(?:in|at|from)$/, "");
}

function normalize(text: string): string {
  return text
    .replace(/\[[^\]]*\]/g, " ") // [#1], [swapper/0:1], [ T123]
    .replace(/\b(?:0x)?[0-9a-f]{6,}\b/gi, " ") // addresses
    .replace(/0x[0-9a-f]+/gi, "") // other hex values (exitcode=0x00000009 → exitcode=)
    .replace(/\d+/g, "N")
    .replace(/\s+/g, " ")
    .replace(/[\s:.,!-]+$/, "")
    .replace(/\s+(?:in|at|from)$/, "")
    .trim();
}
