// The frames of one crash report as the console printed them: where the CPU was (the report's first RIP), then
// the call trace in order. Kept raw — the reporting machinery, locks and dispatchers included — because which
// frame names the bug depends on the kind of crash (guilty-frame.ts): a stall is identified by the function its
// loop was called for, found by walking down to the dispatcher below it, so the dispatchers must be kept.
// Bounded by frame count: the detector feeds it every line of untrusted input.
import { STACK_BOTTOM } from "./guilty-frame.ts";

/** Raw frames kept per report: deep enough to reach a syscall or workqueue dispatcher from a stall's loop. */
export const MAX_TRACE_FRAMES = 48;
/** The kernel's own limit on a symbol's length (KSYM_NAME_LEN): a longer "function" is not one. */
const MAX_NAME_CHARS = 512;

const FRAME_TOKEN = /([A-Za-z_][\w.]*)\+0x[0-9a-f]+\/0x[0-9a-f]+/;
/**
 * A call-trace line: ` func+0x1a/0x40 [module]`, or an older ` [<ffffffff81001234>] func+…`; a symbolized log
 * (syzkaller's, decode_stacktrace.sh) adds the source line: ` func+0x1a/0x40 net/socket.c:2271`.
 */
const FRAME_LINE =
  /^\s*(?:\[<[0-9a-f]+>\]\s*)?(\?\s*)?([A-Za-z_][\w.]*)\+0x[0-9a-f]+\/0x[0-9a-f]+(?:\s+(?:\[[^\]]+\]|[\w./-]+:\d+))*\s*$/;
/**
 * 32-bit ARM's backtrace line names a function and its caller:
 * `[<8040c8f4>] (kvfree) from [<829b9504>] (netdev_freemem+0x24/0x28)`.
 */
const ARM_FRAME_LINE =
  /^\s*\[<[0-9a-f]+>\] \(([A-Za-z_][\w.]*)\) from \[<[0-9a-f]+>\] \(([A-Za-z_][\w.]*)\+0x[0-9a-f]+\/0x[0-9a-f]+[^)]*\)/;
/** Where the CPU was: x86's `RIP: 0010:func+…` (older: `IP: [<…>] func+…`), arm64's `pc : func+…`. */
const RIP_LINE =
  /^\s*(?:R?IP:|pc :|PC is at)\s*(?:[0-9a-f]{4}:)?(?:\[<[0-9a-f]+>\]\s*)?([A-Za-z_][\w.]*)\+0x[0-9a-f]+\/0x[0-9a-f]+/;
/** GCC and Clang clone suffixes: the same function under another name in another build. */
const CLONE_SUFFIX = /\.(?:cold|isra|constprop|part|llvm|lto_priv|localalias)(?:\.\d+)*.*$/;
/** 6.10's allocation profiling renamed allocators `…_noprof`: the same function before and after. */
const PROFILING_SUFFIX = /_noprof$/;

/** A function's name as every build calls it. */
export function baseName(name: string): string {
  return name.replace(CLONE_SUFFIX, "").replace(PROFILING_SUFFIX, "");
}

/** The function a line of text names as `func+0x…/0x…` (a report header's `… in func+0x…`), if any. */
export function namedFunction(text: string): { name: string; index: number } | undefined {
  const match = FRAME_TOKEN.exec(text);
  return match?.[1] === undefined ? undefined : { name: baseName(match[1]), index: match.index };
}

/** What a report's lines said about where it happened. */
export interface CollectedFrames {
  /** The function of the report's first RIP: where the CPU was. */
  readonly crashSite?: string;
  /** Call-trace functions in the order printed (innermost first), `?` guesses left out, each once. */
  readonly frames: readonly string[];
}

export class ReportFrames {
  /**
   * The task or CPU that printed the report (`[ T123]` / `[    C0]`, CONFIG_PRINTK_CALLER): another CPU's lines
   * interleaved with it are not its frames. Unknown: every line counts.
   */
  private readonly caller: string | undefined;
  private site: string | undefined;
  private readonly trace: string[] = [];
  /** Whether the trace reached where its task entered the kernel: the guilty frame of any rule is above it. */
  private bottomReached = false;
  /** Set when the report's own stack is known to be over (a second task's report of the same scan follows). */
  private sealed = false;

  constructor(caller?: string) {
    this.caller = caller;
  }

  /**
   * A copy that goes on collecting by itself, from `caller`'s lines (the report before a panic, continued by the
   * trace the panic line's printer adds).
   */
  copy(caller?: string): ReportFrames {
    const copy = new ReportFrames(caller);
    copy.site = this.site;
    copy.trace.push(...this.trace);
    copy.sealed = this.sealed;
    copy.bottomReached = this.bottomReached;
    return copy;
  }

  /** No more frames belong to this report. */
  seal(): void {
    this.sealed = true;
  }

  /** Whether more frames cannot be taken. */
  get full(): boolean {
    return this.sealed || this.trace.length >= MAX_TRACE_FRAMES;
  }

  /** Whether the frames that can name the bug are all here: the trace reached its bottom, or no more fit. */
  get complete(): boolean {
    return this.full || this.bottomReached;
  }

  /**
   * Takes a console line's frame: the first RIP is the crash site (later ones are other CPUs' backtraces or the
   * panic's own registers); call-trace frames in order, each function once. A `?` frame is a stale word on the
   * stack, not a caller.
   */
  add(line: string, caller?: string): void {
    if (this.full || !line.includes("+0x")) return; // cheap: most lines are not frames
    if (this.caller !== undefined && caller !== undefined && caller !== this.caller) return;
    const rip = RIP_LINE.exec(line)?.[1];
    if (rip !== undefined) {
      if (this.site === undefined && rip.length <= MAX_NAME_CHARS) this.site = baseName(rip);
      return;
    }
    const arm = ARM_FRAME_LINE.exec(line);
    if (arm !== null) {
      for (const name of arm.slice(1)) this.push(name);
      return;
    }
    const frame = FRAME_LINE.exec(line);
    if (frame === null || frame[1] !== undefined || frame[2] === undefined) return;
    this.push(frame[2]);
  }

  private push(function_: string): void {
    if (function_.length > MAX_NAME_CHARS) return;
    const name = baseName(function_);
    if (this.trace.includes(name) || this.trace.length >= MAX_TRACE_FRAMES) return;
    this.trace.push(name);
    if (STACK_BOTTOM.test(name)) this.bottomReached = true;
  }

  /** The crash site (if a RIP was seen) and the call trace. */
  found(): CollectedFrames {
    return { ...(this.site === undefined ? {} : { crashSite: this.site }), frames: [...this.trace] };
  }

  /** Characters held, for the receiver's byte budget. */
  get retainedChars(): number {
    let chars = this.site?.length ?? 0;
    for (const frame of this.trace) chars += frame.length;
    return chars;
  }
}
