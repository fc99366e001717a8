// What a remediation has done so far, kept between its passes: a pass cut short by an API outage (a write that
// failed after its retries) leaves its pods counted here, and the next pass adds to them, so the status counts
// every pod once. Bounded: the outcomes of at most `maxEvents` remediations under way (the oldest forgotten).
import type { KernelPanicEvent } from "../../api/kernelpanicevent.ts";
import { setNewest, trimOldest } from "../../bounded.ts";
import { emptyOutcome, type PodOutcome } from "./pods.ts";

export class RemediationProgress {
  private readonly outcomes = new Map<string, PodOutcome>();
  private readonly maxEvents: number;

  constructor(maxEvents: number) {
    this.maxEvents = maxEvents;
  }

  /** The event's pod outcome so far (empty on its first pass, or after this reconciler restarted). */
  of(event: KernelPanicEvent): PodOutcome {
    const key = keyOf(event);
    const outcome = this.outcomes.get(key) ?? emptyOutcome();
    setNewest(this.outcomes, key, outcome);
    trimOldest(this.outcomes, this.maxEvents);
    return outcome;
  }

  /** The remediation is reported: its outcome is in the status now. */
  forget(event: KernelPanicEvent): void {
    this.outcomes.delete(keyOf(event));
  }
}

/** The event's UID: a new event under the same name starts afresh. */
function keyOf(event: KernelPanicEvent): string {
  return event.metadata.uid ?? event.metadata.name;
}
