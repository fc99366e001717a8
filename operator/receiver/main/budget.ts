// The per-source event budget: a real kernel panics once per boot, so a source (a Node's address; any other
// IPv4 address, or IPv6 /64: the caller gives the key) gets at most `perWindow` KernelPanicEvents per window. What comes beyond is not dropped: the newest panic of the
// source waits in one slot and is recorded as soon as the budget allows, so a flood of forged panics in a node's
// name can delay its real panic by at most a window, never hide it (the reconciler's liveness check then decides
// on the node, whichever text was kept). The replaced ones are counted.
import type { PanicReport } from "../ingest-messages.ts";
import { setNewest, trimOldest } from "../../bounded.ts";

export interface EventBudgetOptions {
  readonly perWindow: number;
  readonly windowMs: number;
  /** Sources remembered at most; the least recently active are forgotten (their deferred panic is released). */
  readonly maxSources: number;
}

export class EventBudget {
  private readonly options: EventBudgetOptions;
  /** Source key → times of its recorded panics within the window, oldest first. Least recently active first. */
  private readonly spent = new Map<string, number[]>();
  private readonly deferred = new Map<string, PanicReport>();
  private readonly onReplaced: (dropped: PanicReport) => void;

  constructor(options: EventBudgetOptions, onReplaced: (dropped: PanicReport) => void) {
    this.options = options;
    this.onReplaced = onReplaced;
  }

  get deferredCount(): number {
    return this.deferred.size;
  }

  /** The report if it may be recorded now; otherwise it waits (replacing an older waiting one) and undefined. */
  admit(report: PanicReport, key: string, nowMs: number): PanicReport | undefined {
    if (this.take(key, nowMs)) return report;
    const replaced = this.deferred.get(key);
    if (replaced !== undefined) this.onReplaced(replaced);
    this.deferred.set(key, report);
    return undefined;
  }

  /** Counts a panic recorded whatever the budget (it continued its node's stream): it spends, never waits. */
  spend(key: string, nowMs: number): void {
    this.take(key, nowMs, true);
  }

  /** The waiting panics whose source has budget again (a forgotten source's budget is fresh). */
  due(nowMs: number): PanicReport[] {
    const ready: PanicReport[] = [];
    for (const [key, report] of this.deferred) {
      if (!this.take(key, nowMs)) continue;
      this.deferred.delete(key);
      ready.push(report);
    }
    return ready;
  }

  /** Everything still waiting (shutdown): recorded rather than lost. */
  drain(): PanicReport[] {
    const all = [...this.deferred.values()];
    this.deferred.clear();
    return all;
  }

  private take(key: string, nowMs: number, always = false): boolean {
    const times = (this.spent.get(key) ?? []).filter((t) => nowMs - t < this.options.windowMs);
    const allowed = always || times.length < this.options.perWindow;
    if (allowed) times.push(nowMs);
    setNewest(this.spent, key, times);
    this.bound();
    return allowed;
  }

  private bound(): void {
    trimOldest(this.spent, this.options.maxSources);
  }
}
