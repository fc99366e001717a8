// The panic detector of one source (one node): pure and deterministic, fed console records and the current time.
//
// It keeps a ring of recent lines (the oops and call trace come *before* the panic line), remembers the last
// report header as the likely cause, and when a panic line arrives it collects what follows until the context
// is complete: enough lines, the panic's closing marker, a quiet period, or a deadline — whichever comes first.
// A kernel prints its panic line once per boot, so a panic line with the same identity as the last one (a
// repeated packet, a second netconsole target, the closing marker) is the same panic, never a second one.
import type { KernelRecord } from "../../netconsole/record.ts";
import type { Continuity } from "../continuity.ts";
import { ReportFrames, type CollectedFrames } from "../report-frames.ts";
import { matchersFor, type PatternMatchers } from "./line-matcher.ts";
import type { DetectionPatterns } from "./patterns.ts";

export interface DetectorOptions {
  /** Lines of context recorded per panic, the panic line included. */
  readonly contextLines: number;
  /** Context is complete once the source has been quiet this long after the panic line. */
  readonly quietMs: number;
  /** Context is complete this long after the panic line, whatever is still arriving. */
  readonly deadlineMs: number;
  /** A panic line without sequence number or timestamp repeats the last one if it arrives within this window. */
  readonly duplicateWindowMs: number;
  /**
   * The input is one node's own kept log (a file, a pstore record), not datagrams anyone can send: every line is
   * the node's, so any later panic line of the same boot is the same panic.
   */
  readonly ownLog?: boolean;
}

export interface Detection extends CollectedFrames {
  readonly firstLine: string;
  readonly reason: string;
  readonly cause?: string;
  readonly contextLines: readonly string[];
  readonly detectedAtMs: number;
  readonly release?: string;
  readonly sequence?: number;
  readonly uptimeMicros?: number;
  readonly userdata: Readonly<Record<string, string>>;
  /** Whether the panic line continued the node's own netconsole stream (continuity.ts). */
  readonly continuity?: Continuity;
}

export type DetectorNotice = "duplicate_panic" | "userspace_panic_ignored";

interface PendingPanic {
  readonly detection: Omit<Detection, "contextLines" | keyof CollectedFrames>;
  /** The panic line's number among the source's records. */
  readonly startLine: number;
  readonly lines: string[];
  /** The report's frames, then those of the trace after the panic line (for the crash signature). */
  readonly frames: ReportFrames;
  /** Lines seen after the panic line, kept in the context or not. */
  followed: number;
  lastLineAtMs: number;
}

/** Cause headers this close together belong to one report (BUG, then Oops, then the registers…). */
const CAUSE_GROUP_LINES = 10;
/**
 * Records arrive out of order (CPUs interleave, packets reorder): only a step back larger than this counts as
 * a reboot. Real logs show console timestamps 40 s out of order within one boot.
 */
const REORDER_SLACK_RECORDS = 256;
const REORDER_SLACK_MICROS = 120 * 1_000_000;
/**
 * Lines after the panic line searched for the signature's frames once the context is full. The panic's own
 * call trace follows the panic line, and a debug kernel's trace spends dozens of lines in `?` guesses and the
 * reporting machinery before the first frame that names the bug (a WARNING's caller). Only frame names are kept
 * from these lines, so the memory a pending panic holds does not grow with them.
 */
const FRAME_SEARCH_LINES = 100;
/** The header of one blocked task in khungtaskd's report. */
const HUNG_TASK = /^INFO: task .* blocked (?:in I\/O wait )?for more than /;
/** A cause header this many lines before the panic line is too old to have caused it. */
const CAUSE_MAX_AGE_LINES = 10_000;

export class PanicDetector {
  private readonly patterns: PatternMatchers;
  private readonly options: DetectorOptions;
  private readonly onNotice: (notice: DetectorNotice) => void;
  private readonly recent: string[] = [];
  /** Characters in `recent`, kept as lines come and go: retainedChars is asked on every packet. */
  private recentChars = 0;
  private pending: PendingPanic | undefined;
  private lastPanic:
    | {
        sequence?: number;
        uptimeMicros?: number;
        firstLine: string;
        atMs: number;
        rebootSeen: boolean;
        /** The boot it is known to come from (bootOf). */
        boot?: string;
      }
    | undefined;
  /**
   * The report that will likely explain the next panic: its first header, where that header was, the last header
   * of the same report, and the header with the lines that followed it (the report's head: what invoked the OOM
   * killer, the faulting address…), kept even when the report is longer than the context.
   */
  private cause:
    { text: string; firstLine: number; lastHeaderLine: number; head: string[]; frames: ReportFrames } | undefined;
  private lineNumber = 0;
  private lastRelease: string | undefined;

  constructor(
    patterns: DetectionPatterns,
    options: DetectorOptions,
    onNotice: (notice: DetectorNotice) => void = () => undefined,
  ) {
    this.patterns = matchersFor(patterns);
    this.options = options;
    this.onNotice = onNotice;
  }

  /** Characters held: the recent lines and the pending panic's context (for the receiver's byte budget). */
  get retainedChars(): number {
    let chars = this.recentChars;
    for (const line of this.pending?.lines ?? []) chars += line.length;
    for (const line of this.cause?.head ?? []) chars += line.length;
    chars += (this.pending?.frames.retainedChars ?? 0) + (this.cause?.frames.retainedChars ?? 0);
    return chars + (this.lastPanic?.firstLine.length ?? 0);
  }

  /** True while a panic's context is still being collected. */
  get collecting(): boolean {
    return this.pending !== undefined;
  }

  /** Whether the record just observed started a panic (was its panic line). */
  get startedPanic(): boolean {
    return this.pending?.startLine === this.lineNumber;
  }

  /** Feeds one record; returns the detections it completed (at most two: the pending one and, rarely, a new one). */
  observe(record: KernelRecord, nowMs: number, continuity?: Continuity): Detection[] {
    this.lineNumber++;
    if (record.release !== undefined) this.lastRelease = record.release;
    const completed: Detection[] = [];
    const reason = this.kernelMayTrigger(record) ? this.matchPanic(record.text) : undefined;
    if (reason !== undefined && !this.sameBoot(continuity) && !this.isRepeat(record, nowMs)) {
      const done = this.complete();
      if (done !== undefined) completed.push(done);
      this.start(record, reason, nowMs, continuity);
    } else {
      if (reason !== undefined) this.onNotice("duplicate_panic");
      const done = this.follow(record, nowMs);
      if (done !== undefined) completed.push(done);
    }
    this.remember(record);
    return completed;
  }

  /** Completes the pending panic if the source has been quiet long enough or the deadline has passed. */
  poll(nowMs: number): Detection | undefined {
    const p = this.pending;
    if (p === undefined) return undefined;
    const quiet = nowMs - p.lastLineAtMs >= this.options.quietMs;
    const late = nowMs - p.detection.detectedAtMs >= this.options.deadlineMs;
    return quiet || late ? this.complete() : undefined;
  }

  /** Completes the pending panic now (end of input, source evicted, shutdown). */
  complete(): Detection | undefined {
    const p = this.pending;
    this.pending = undefined;
    return p === undefined ? undefined : { ...p.detection, contextLines: p.lines, ...p.frames.found() };
  }

  private kernelMayTrigger(record: KernelRecord): boolean {
    // In extended mode the facility is reliable: text written to /dev/kmsg by userspace has facility ≥ 1.
    if (record.extended && record.prio !== undefined && record.prio >= 8) {
      if (this.matchPanic(record.text) !== undefined) this.onNotice("userspace_panic_ignored");
      return false;
    }
    return true;
  }

  private matchPanic(text: string): string | undefined {
    if (this.patterns.panicEnd.test(text)) return undefined;
    const match = this.patterns.panic.exec(text);
    return match === null ? undefined : (match.groups?.reason ?? "").trim();
  }

  /**
   * The same panic line again is the same panic when the records say so: the same sequence number or console
   * timestamp (a repeated packet, a second netconsole target, plain and extended targets at once). Without
   * either on both sides, the same line within the window is the same panic — the kernel prints it once per
   * boot — unless a reboot was seen since. A record that carries an identity is never taken for a repeat of one
   * that does not, nor of one whose identity differs: a spoofed panic line sent first must not hide the real one.
   */
  private isRepeat(record: KernelRecord, nowMs: number): boolean {
    const last = this.lastPanic;
    if (last === undefined || last.firstLine !== record.text) return false;
    const seq = last.sequence !== undefined && record.seq !== undefined ? last.sequence === record.seq : undefined;
    const ts =
      last.uptimeMicros !== undefined && record.tsUsec !== undefined ? last.uptimeMicros === record.tsUsec : undefined;
    // A rebooted guest can print its panic under the very same sequence number (a deterministic boot): the
    // timestamp then tells the boots apart. Two copies of one record agree on both.
    if (seq !== undefined || ts !== undefined) return seq !== false && ts !== false;
    const identified = record.seq !== undefined || record.tsUsec !== undefined;
    const lastIdentified = last.sequence !== undefined || last.uptimeMicros !== undefined;
    if (identified && !lastIdentified) return false;
    return !last.rebootSeen && nowMs - last.atMs < this.options.duplicateWindowMs;
  }

  /**
   * One boot, one panic: the kernel stops in panic(), so a later panic line of the same boot is the same crash
   * told again (a console replaying its log, panic() faulting on its way down and panicking again).
   */
  private sameBoot(continuity: Continuity | undefined): boolean {
    const last = this.lastPanic;
    const boot = this.bootOf(continuity);
    return last !== undefined && boot !== undefined && last.boot === boot && !last.rebootSeen;
  }

  /**
   * Which boot a record is known to come from: the node and boot id of the stream it continued (continuity.ts:
   * an off-path forger cannot continue it, so it cannot make the real panic look like a repeat), or the whole of
   * an own log. Otherwise unknown: a panic line anyone could have sent is never taken for the same boot's.
   */
  private bootOf(continuity: Continuity | undefined): string | undefined {
    if (this.options.ownLog === true) return "own log";
    return continuity?.kind === "continuous" ? `${continuity.anchor.node} ${continuity.anchor.bootId}` : undefined;
  }

  /**
   * A sequence number or uptime well below the panic's means the node booted again since; so does, in an own
   * log, the banner every boot starts with.
   */
  private watchForReboot(record: KernelRecord): void {
    const last = this.lastPanic;
    if (last === undefined || last.rebootSeen) return;
    if (this.options.ownLog === true && record.text.startsWith("Linux version ")) last.rebootSeen = true;
    const seqBack =
      last.sequence !== undefined && record.seq !== undefined && record.seq + REORDER_SLACK_RECORDS < last.sequence;
    const uptimeBack =
      last.uptimeMicros !== undefined &&
      record.tsUsec !== undefined &&
      record.tsUsec + REORDER_SLACK_MICROS < last.uptimeMicros;
    if (seqBack || uptimeBack) last.rebootSeen = true;
  }

  /** Context lines before the panic line: the rest (a quarter) is for what follows it. */
  private get budgetBefore(): number {
    return Math.max(0, this.options.contextLines - 1 - Math.floor(this.options.contextLines / 4));
  }

  /**
   * What precedes the panic line in its context. With a cause, the context starts at the report's header: the
   * whole report when it fits, otherwise its head and then the lines just before the panic.
   */
  private contextBefore(cause: NonNullable<PanicDetector["cause"]> | undefined): string[] {
    const budget = this.budgetBefore;
    if (budget === 0) return [];
    if (cause === undefined) return this.recent.slice(-budget);
    const sinceHeader = this.lineNumber - cause.firstLine;
    if (sinceHeader <= budget && sinceHeader <= this.recent.length) return this.recent.slice(-sinceHeader);
    const head = cause.head.slice(0, budget);
    const tail = budget - head.length;
    return [...head, ...(tail > 0 ? this.recent.slice(-tail) : [])];
  }

  private start(record: KernelRecord, reason: string, nowMs: number, continuity: Continuity | undefined): void {
    const recentCause =
      this.cause !== undefined && this.lineNumber - this.cause.lastHeaderLine <= CAUSE_MAX_AGE_LINES
        ? this.cause
        : undefined;
    const before = this.contextBefore(recentCause);
    const cause = recentCause?.text;
    const release = record.release ?? this.lastRelease;
    this.pending = {
      detection: {
        firstLine: record.text,
        reason,
        ...(cause === undefined ? {} : { cause }),
        detectedAtMs: nowMs,
        ...(release === undefined ? {} : { release }),
        ...(record.seq === undefined ? {} : { sequence: record.seq }),
        ...(record.tsUsec === undefined ? {} : { uptimeMicros: record.tsUsec }),
        // From the panic record itself only: userdata of an earlier record may be anyone's (a spoofed datagram
        // naming another node would otherwise make the reconciler refuse the real panic).
        userdata: record.userdata ?? {},
        ...(continuity === undefined ? {} : { continuity }),
      },
      startLine: this.lineNumber,
      lines: [...before, record.text],
      frames: recentCause === undefined ? new ReportFrames(record.caller) : recentCause.frames.copy(record.caller),
      followed: 0,
      lastLineAtMs: nowMs,
    };
    this.rememberPanic(record, nowMs, continuity);
    this.cause = undefined;
    if (this.pending.lines.length >= this.options.contextLines)
      this.pending.lines.splice(0, this.pending.lines.length - this.options.contextLines);
  }

  /** What tells a later panic line apart from this one (isRepeat, sameBoot). */
  private rememberPanic(record: KernelRecord, nowMs: number, continuity: Continuity | undefined): void {
    const boot = this.bootOf(continuity);
    this.lastPanic = {
      firstLine: record.text,
      atMs: nowMs,
      rebootSeen: false,
      ...(boot === undefined ? {} : { boot }),
      ...(record.seq === undefined ? {} : { sequence: record.seq }),
      ...(record.tsUsec === undefined ? {} : { uptimeMicros: record.tsUsec }),
    };
  }

  /**
   * Adds a line that follows the panic line to its context, and its frame to the signature's; completes the
   * panic at its closing marker, or once the context is full and the trace has reached where its task entered the
   * kernel (or the search for it gave up).
   */
  private follow(record: KernelRecord, nowMs: number): Detection | undefined {
    const p = this.pending;
    if (p === undefined) return undefined;
    p.followed++;
    p.lastLineAtMs = nowMs;
    if (p.lines.length < this.options.contextLines) p.lines.push(record.text);
    p.frames.add(record.text, record.caller);
    const ended = this.patterns.panicEnd.test(record.text);
    const contextFull = p.lines.length >= this.options.contextLines;
    const framesDone = p.frames.complete || p.followed >= FRAME_SEARCH_LINES;
    return ended || (contextFull && framesDone) ? this.complete() : undefined;
  }

  private remember(record: KernelRecord): void {
    this.watchForReboot(record);
    this.recent.push(record.text);
    this.recentChars += record.text.length;
    if (this.recent.length > this.options.contextLines) this.recentChars -= this.recent.shift()!.length;
    if (this.pending !== undefined || (record.extended && (record.prio ?? 0) >= 8)) return;
    const cause = this.cause;
    if (this.patterns.cause.test(record.text)) {
      this.takeHeader(record);
      return;
    }
    cause?.frames.add(record.text, record.caller);
    // The report's head: the header and what follows it, up to half of the context before the panic.
    if (cause !== undefined && cause.head.length < Math.ceil(this.budgetBefore / 2)) cause.head.push(record.text);
  }

  /** A report header: a new report's cause, or a further header of the report going on. */
  private takeHeader(record: KernelRecord): void {
    const cause = this.cause;
    // khungtaskd reports every blocked task it finds in one scan: one report, named by its first task as any
    // report is by its first header; the other tasks' stacks are not its frames.
    if (cause !== undefined && HUNG_TASK.test(cause.text) && HUNG_TASK.test(record.text)) {
      cause.lastHeaderLine = this.lineNumber;
      cause.frames.seal();
      return;
    }
    // The first header of a report names it best ("BUG: unable to handle …" before "Oops: …"): keep it while
    // the report goes on.
    if (cause !== undefined && this.lineNumber - cause.lastHeaderLine <= CAUSE_GROUP_LINES) {
      cause.lastHeaderLine = this.lineNumber;
      if (cause.head.length < Math.ceil(this.budgetBefore / 2)) cause.head.push(record.text);
      return;
    }
    this.cause = {
      text: record.text,
      firstLine: this.lineNumber,
      lastHeaderLine: this.lineNumber,
      head: [record.text],
      frames: new ReportFrames(record.caller),
    };
  }
}
