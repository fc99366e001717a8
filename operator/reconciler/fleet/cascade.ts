// The cascade: the same workload on one node after another as they panic. Kubernetes moves a crashing node's
// pods to the next node; if the pods are what crashes the kernel, that node dies too (a public post-mortem:
// three web replicas packed on one node, rescheduled, until the site was down). The tracker remembers which
// workloads were on each panicked node, from every remediated event's status (so it survives restarts), and
// names the workloads a new panic shares with other panicked nodes within the window.
import { LIMITS, type Suspect, type Workload } from "../../api/kernelpanicevent.ts";
import { setNewest, trimOldest } from "../../bounded.ts";
import { workloadKey } from "./workloads.ts";

export interface CascadeOptions {
  /** Panics further apart than this are not one cascade; 0 turns detection off. */
  readonly windowMs: number;
  /** Workloads remembered at most (the least recently seen are forgotten first). */
  readonly maxWorkloads: number;
}

/** One panicked node a workload was on. */
interface Sighting {
  readonly nodeName: string;
  readonly event: string;
  readonly atMs: number;
}

/** A suspect and when the other nodes it was on panicked (to tell whether it followed the crash). */
export interface SuspectFinding extends Suspect {
  /** The earliest of the other nodes' panics before this one (none when all came after it). */
  readonly firstPanicMs: number | undefined;
  /** The nodes, in the order of their panics, this one last. */
  readonly nodeNames: readonly string[];
}

export class CascadeTracker {
  private readonly options: CascadeOptions;
  /** Workload → the panicked nodes it was on, oldest first, at most LIMITS.suspectEvents. */
  private readonly sightings = new Map<string, Sighting[]>();

  constructor(options: CascadeOptions) {
    this.options = options;
  }

  get enabled(): boolean {
    return this.options.windowMs > 0;
  }

  /** Notes that the workloads were on the node when it panicked (once per event, however often it is read). */
  ran(panic: Sighting, workloads: readonly Pick<Workload, "kind" | "namespace" | "name">[]): void {
    if (!this.enabled || panic.nodeName === "") return;
    for (const workload of workloads) {
      const key = workloadKey(workload);
      const known = this.sightings.get(key) ?? [];
      if (known.some((s) => s.event === panic.event)) continue;
      const kept = [...known, panic].sort((a, b) => a.atMs - b.atMs).slice(-LIMITS.suspectEvents);
      setNewest(this.sightings, key, kept);
    }
    trimOldest(this.sightings, this.options.maxWorkloads);
  }

  /** The workloads that were also on other nodes that panicked within the window of this panic, most nodes first. */
  suspects(panic: Sighting, workloads: readonly Workload[]): SuspectFinding[] {
    if (!this.enabled) return [];
    const found: SuspectFinding[] = [];
    for (const workload of workloads) {
      const others = (this.sightings.get(workloadKey(workload)) ?? []).filter(
        (s) => s.nodeName !== panic.nodeName && Math.abs(s.atMs - panic.atMs) <= this.options.windowMs,
      );
      if (others.length === 0) continue;
      const events = others.slice(-(LIMITS.suspectEvents - 1)).map((s) => s.event);
      found.push({
        kind: workload.kind,
        namespace: workload.namespace,
        name: workload.name,
        nodes: new Set(others.map((s) => s.nodeName)).size + 1,
        events: [...events, panic.event],
        firstPanicMs: others.find((s) => s.atMs <= panic.atMs)?.atMs,
        nodeNames: [...new Set([...others.map((s) => s.nodeName), panic.nodeName])],
      });
    }
    return found
      .sort((a, b) => b.nodes - a.nodes || workloadKey(a).localeCompare(workloadKey(b)))
      .slice(0, LIMITS.suspects);
  }
}
