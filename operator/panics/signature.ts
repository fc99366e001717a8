// A crash signature: the same kernel bug gives the same signature on every node and every boot, so a fleet can
// count "this bug, on this release, N times" instead of reading N records. Built like syzkaller's crash titles:
// the kind of crash (the report's header with addresses, numbers and task names taken out) and the functions
// where it happened (the header's own function, the RIP, then the call trace's meaningful frames, with offsets,
// `?` guesses and compiler clone suffixes stripped). Nothing here depends on where in memory the kernel was.
import { createHash } from "node:crypto";

export interface CrashSignature {
  /** 16 hex digits: a label value (`lastgasp.dev/signature`). */
  readonly id: string;
  /** Human-readable: `<kind> in <function>`, e.g. `BUG: kernel NULL pointer dereference in sysrq_handle_crash`. */
  readonly title: string;
  readonly kind: string;
  /** The top meaningful frames, crash site first (at most FRAMES). */
  readonly frames: readonly string[];
}

export interface SignatureInput {
  readonly reason: string;
  readonly cause?: string;
  /** What collectFrame gathered from the report and the lines after the panic. */
  readonly frames: readonly string[];
}

/** Frames shown with the signature (the first one is part of it). */
const FRAMES = 3;

const FRAME_TOKEN = /([A-Za-z_][\w.]*)\+0x[0-9a-f]+\/0x[0-9a-f]+/;
/** A call-trace line: ` func+0x1a/0x40 [module]`, or an older ` [<ffffffff81001234>] func+…`. */
const FRAME_LINE =
  /^\s*(?:\[<[0-9a-f]+>\]\s*)?(\?\s*)?([A-Za-z_][\w.]*)\+0x[0-9a-f]+\/0x[0-9a-f]+(?:\s+\[[^\]]+\])?\s*$/;
/** Where the CPU was: x86's `RIP: 0010:func+…` (older: `IP: [<…>] func+…`), arm64's `pc : func+…`. */
const RIP_LINE =
  /^\s*(?:R?IP:|pc :|PC is at)\s*(?:[0-9a-f]{4}:)?(?:\[<[0-9a-f]+>\]\s*)?([A-Za-z_][\w.]*)\+0x[0-9a-f]+\/0x[0-9a-f]+/;
/** GCC and Clang clone suffixes: the same function under another name in another build. */
const CLONE_SUFFIX = /\.(?:cold|isra|constprop|part|llvm|lto_priv|localalias)(?:\.\d+)*.*$/;
/** 6.10's allocation profiling renamed allocators `…_noprof`: the same function before and after. */
const PROFILING_SUFFIX = /_noprof$/;

function baseName(name: string): string {
  return name.replace(CLONE_SUFFIX, "").replace(PROFILING_SUFFIX, "");
}

/**
 * Functions every crash passes through (reporting, the panic itself, exception and syscall entry, workqueues):
 * they say how the kernel got to the report, not where the bug is.
 */
const INFRASTRUCTURE = new RegExp(
  "^(?:" +
    [
      "dump_stack\\w*",
      "show_stack\\w*",
      "show_regs\\w*",
      "sched_show_task",
      "print_\\w+",
      "printk\\w*",
      "_printk",
      "vprintk\\w*",
      "panic",
      "vpanic",
      "nmi_panic",
      "check_panic_on_warn",
      "__warn\\w*",
      "warn_\\w+",
      "report_bug",
      "handle_bug",
      "do_error_trap",
      "do_trap",
      "die\\w*",
      "__die\\w*",
      "oops_\\w+",
      "notify_die",
      "exc_\\w+",
      "asm_\\w+",
      "\\w*kasan_\\w+",
      "__asan_\\w+",
      "\\w*kmsan_\\w+",
      "__msan_\\w+",
      "\\w*ubsan_\\w+",
      "kfence_\\w+",
      "lockdep_\\w+",
      "__lock_acquire",
      "lock_acquire",
      "check_\\w+_usage",
      "debug_\\w+",
      "__might_\\w+",
      "___might_\\w+",
      "__might_sleep",
      "dump_header",
      "oom_kill_process",
      "out_of_memory",
      "entry_SYSCALL\\w*",
      "do_syscall_\\w+",
      "x64_sys_call",
      "ret_from_fork\\w*",
      "kthread",
      "worker_thread",
      "process_one_work\\w*",
      "el0_\\w+",
      "el1_\\w+",
      "\\w*sysvec_\\w+",
      "irq_exit\\w*",
      "__irq_exit\\w*",
      "handle_softirqs",
      "__do_softirq",
      "do_softirq\\w*",
      "rcu_\\w+",
      "watchdog_\\w+",
      "hrtimer_\\w+",
      "__hrtimer_\\w+",
      "tick_\\w+",
      "update_process_times",
      "__sysrq_handle_key",
      "__schedule",
      "schedule\\w*",
      "io_schedule\\w*",
      "__mutex_lock\\w*",
      "mutex_lock\\w*",
      "rwsem_down\\w*",
      "down_\\w+",
      "wait_for_completion\\w*",
      "do_invalid_op",
      "invalid_op",
      "fixup_bug",
      "__x86_indirect_thunk_\\w+",
      "system_call_fastpath",
      "__stack_chk_fail",
      "check_memory_region",
      "kcsan_\\w+",
      "__alloc_pages\\w*",
      "alloc_pages\\w*",
      "__folio_alloc\\w*",
      "folio_alloc\\w*",
      "percpu_rwsem_\\w+",
      "__percpu_down_\\w+",
      "percpu_down_\\w+",
      "refcount_\\w+",
      "__refcount_\\w+",
      // Copy and fill helpers: where a fault landed, not who asked.
      "\\w*clear_user\\w*",
      "rep_stos\\w*",
      "rep_movs\\w*",
      "\\w*copy_\\w*user\\w*",
      "mem(?:set|cpy|move)\\w*",
      "__mem(?:set|cpy|move)\\w*",
      "sysrq_handle_\\w+_wrapper",
    ].join("|") +
    ")$",
);

export function crashSignature(input: SignatureInput): CrashSignature {
  const kind = crashKind(input);
  const frames = crashFrames(input).slice(0, FRAMES);
  const title = frames.length === 0 ? kind : `${kind} in ${frames[0]!}`;
  // The kind and the crash site: the callers below it differ between kernel builds (what got inlined), the
  // crash site of one bug does not.
  const id = createHash("sha256")
    .update([kind, frames[0] ?? ""].join("\n"))
    .digest("hex")
    .slice(0, 16);
  return { id, title, kind, frames };
}

/** The report's header made address- and instance-free; the panic's own reason when no report preceded it. */
function crashKind(input: SignatureInput): string {
  if (input.cause === undefined) return `kernel panic: ${normalize(beforeFrame(input.reason))}`;
  return normalize(kindRules(input.cause));
}

/** Headers whose variable part is not a number or an address, and the kind of crash each names. */
const KIND_RULES: readonly (readonly [RegExp, string])[] = [
  [/^WARNING: CPU: \d+ PID: \d+ at .*$/, "WARNING"],
  [/^INFO: task .* blocked for more than .*$/, "INFO: task hung"],
  [/^(?:INFO: |rcu: INFO: )?rcu_\w+ (?:self-)?detected stalls?.*$/, "INFO: rcu detected stall"],
  [/^(?:watchdog: )?BUG: soft lockup.*$/, "BUG: soft lockup"],
  [/^(?:NMI )?[Ww]atchdog(?: detected)? hard LOCKUP.*$/, "hard LOCKUP"],
  [/^.+ invoked oom-killer: .*$/, "invoked oom-killer"],
];

/** The kind of crash a report header names. */
function kindRules(cause: string): string {
  for (const [pattern, kind] of KIND_RULES) if (pattern.test(cause)) return kind;
  // Up to the first detail after a comma or the oops counter.
  return beforeFrame(cause).split(/, | \[#|: 0000/)[0]!;
}

/** Text up to the function it names (which becomes the first frame): `… in: ip6_xmit+0x…` → `… in`. */
function beforeFrame(text: string): string {
  const frame = FRAME_TOKEN.exec(text);
  const head = frame === null ? text : text.slice(0, frame.index);
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

/** Frames a report keeps for its signature: the crash site and a few callers, whatever the trace's length. */
export const MAX_FRAMES = 6;

/**
 * Adds a console line's frame, if it is a meaningful one, to a report's frames (the detector calls this for the
 * lines of the report that will likely explain the next panic, and for those after the panic line): the RIP
 * (where the CPU was) goes first, call-trace frames after it in order, each function once.
 */
export function collectFrame(frames: string[], line: string): void {
  if (frames.length >= MAX_FRAMES || !line.includes("+0x")) return; // cheap: most lines are not frames
  const rip = RIP_LINE.exec(line)?.[1];
  const frame = rip === undefined ? FRAME_LINE.exec(line) : null;
  // A `?` frame is a stale word on the stack, not a caller.
  const found = rip ?? (frame !== null && frame[1] === undefined ? frame[2] : undefined);
  if (found === undefined) return;
  const name = baseName(found);
  if (INFRASTRUCTURE.test(name) || frames.includes(name)) return;
  if (rip === undefined) frames.push(name);
  else frames.unshift(name);
}

/** The function the report's header names (`… in func+0x…`, `… at file:line func+0x…`) first, then the rest. */
function crashFrames(input: SignatureInput): string[] {
  const frames: string[] = [];
  const named = FRAME_TOKEN.exec(input.cause ?? input.reason);
  const header = named?.[1] === undefined ? undefined : baseName(named[1]);
  if (header !== undefined && !INFRASTRUCTURE.test(header)) frames.push(header);
  for (const frame of input.frames) if (!frames.includes(frame)) frames.push(frame);
  return frames;
}
