// Netconsole coverage, seen from the cluster: which nodes the receiver has heard the node agent's self-test from
// recently (the Node annotation lastgasp.dev/netconsole-last-seen). A node heard once and then not for
// netconsoleSilentAfterSeconds is flagged, with a Warning Event and a metric, so a gap is known before a panic
// falls into it. A node never heard is counted as unheard but not flagged (no agent runs there, by choice or
// not yet). A node whose agent reports that its kernel cannot run netconsole (lastgasp.dev/netconsole-unavailable,
// the agent's reason) is unavailable, flagged once per reason with a Warning Event that says why.
import type { V1Node } from "@kubernetes/client-node";
import { ANNOTATIONS } from "../../api/keys.ts";
import { parseLastWords } from "../../api/last-words.ts";
import type { Clock } from "../../clock.ts";
import { repeatEvery } from "../../concurrency.ts";
import { classifyError } from "../../kube/errors.ts";
import type { ClusterReader } from "../../kube/reader.ts";
import type { ClusterWriter } from "../../kube/writer.ts";
import type { Logger } from "../../log.ts";
import { nodeRef } from "../status/event-status.ts";
import type { ReconcilerMetrics } from "../metrics.ts";

export type CoverageState = "covered" | "silent" | "unheard" | "unavailable";
export const COVERAGE_STATES: readonly CoverageState[] = ["covered", "silent", "unheard", "unavailable"];

export const COVERAGE_REASONS = {
  silent: "NetconsoleSilent",
  heard: "NetconsoleHeardAgain",
  unavailable: "NetconsoleUnavailable",
} as const;

/**
 * Events recorded per check at most: when a receiver outage silences every node at once, the Events trickle out
 * over the following checks instead of taking the reconciler's API budget from remediation.
 */
export const MAX_EVENTS_PER_CHECK = 20;

export function coverageOf(
  node: V1Node,
  nowMs: number,
  silentAfterMs: number,
): { state: CoverageState; lastSeenMs?: number; reason?: string } {
  const reason = node.metadata?.annotations?.[ANNOTATIONS.netconsoleUnavailable];
  if (reason !== undefined && reason !== "") return { state: "unavailable", reason };
  const lastSeenMs = Date.parse(node.metadata?.annotations?.[ANNOTATIONS.netconsoleLastSeen] ?? "");
  if (Number.isNaN(lastSeenMs)) return { state: "unheard" };
  return { state: nowMs - lastSeenMs > silentAfterMs ? "silent" : "covered", lastSeenMs };
}

/** Which of the three last words a node has: netconsole heard lately, a pstore backend, a kdump kernel loaded. */
export interface NodeLastWords {
  readonly netconsole: boolean;
  readonly pstore: boolean;
  readonly kdump: boolean;
  /** Whether its agent said what it keeps besides netconsole (lastgasp.dev/last-words). */
  readonly reported: boolean;
}

export function lastWordsOf(node: V1Node, state: CoverageState): NodeLastWords {
  const kept = parseLastWords(node.metadata?.annotations?.[ANNOTATIONS.lastWords]);
  return {
    netconsole: state === "covered",
    pstore: kept?.pstore !== undefined,
    kdump: kept?.kdump === true,
    reported: kept !== undefined,
  };
}

export const LAST_WORDS_KINDS = ["netconsole", "pstore", "kdump"] as const;

export interface CoverageDeps {
  readonly reader: Pick<ClusterReader, "listNodes">;
  readonly writer: Pick<ClusterWriter, "recordEvent">;
  readonly metrics: ReconcilerMetrics;
  readonly log: Logger;
  readonly clock: Clock;
}

export class CoverageMonitor {
  private readonly deps: CoverageDeps;
  private readonly silentAfterMs: number;
  private readonly checkIntervalMs: number;
  /** Nodes flagged silent, so each silence gets one Event and each recovery one. */
  private readonly flagged = new Set<string>();
  /** Nodes flagged unavailable, with the reason their Event gave. */
  private readonly unavailable = new Map<string, string>();

  /** `silentAfterMs`: a Node unheard this long is silent; `checkIntervalMs`: how often start() checks. */
  constructor(deps: CoverageDeps, silentAfterMs: number, checkIntervalMs: number) {
    this.deps = deps;
    this.silentAfterMs = silentAfterMs;
    this.checkIntervalMs = checkIntervalMs;
  }

  /** Lists the nodes, updates the metrics, and records Events for nodes that fell silent or were heard again. */
  async check(): Promise<Record<CoverageState, number>> {
    const nodes = await this.deps.reader.listNodes();
    const nowMs = this.deps.clock.nowMs();
    const counts: Record<CoverageState, number> = { covered: 0, silent: 0, unheard: 0, unavailable: 0 };
    const kinds: Record<(typeof LAST_WORDS_KINDS)[number], number> = { netconsole: 0, pstore: 0, kdump: 0 };
    const { metrics } = this.deps;
    metrics.netconsoleSilentNode.reset();
    metrics.withoutLastWordsNode.reset();
    const present = new Set<string>();
    let events = 0;
    for (const node of nodes) {
      present.add(node.metadata?.name ?? "");
      const coverage = coverageOf(node, nowMs, this.silentAfterMs);
      counts[coverage.state]++;
      for (const kind of this.countLastWords(node, coverage.state)) kinds[kind]++;
      if (events < MAX_EVENTS_PER_CHECK && (await this.flagTransition(node, coverage.state, coverage.lastSeenMs)))
        events++;
      if (events < MAX_EVENTS_PER_CHECK && (await this.flagUnavailable(node, coverage.reason))) events++;
    }
    for (const name of this.flagged) if (!present.has(name)) this.flagged.delete(name);
    for (const name of this.unavailable.keys()) if (!present.has(name)) this.unavailable.delete(name);
    for (const state of COVERAGE_STATES) metrics.netconsoleNodes.set({ state }, counts[state]);
    for (const kind of LAST_WORDS_KINDS) metrics.lastWordsNodes.set({ kind }, kinds[kind]);
    metrics.nodes.set(nodes.length);
    return counts;
  }

  /** The node's per-node series; the last words it has, to count. */
  private countLastWords(node: V1Node, state: CoverageState): (typeof LAST_WORDS_KINDS)[number][] {
    const name = node.metadata?.name ?? "";
    const { metrics } = this.deps;
    if (state === "silent") metrics.netconsoleSilentNode.set({ node: name }, 1);
    const words = lastWordsOf(node, state);
    const has = LAST_WORDS_KINDS.filter((kind) => words[kind]);
    // Only a node whose agent said what it keeps: a node with no agent is unheard, not flagged.
    if (words.reported && has.length === 0) metrics.withoutLastWordsNode.set({ node: name }, 1);
    return has;
  }

  /** Checks every `intervalMs` (never two at once) until the returned function is called. */
  start(): () => Promise<void> {
    return repeatEvery(
      this.deps.clock,
      this.checkIntervalMs,
      async () => this.check(),
      (err) => {
        this.deps.log.warn("Failed to check netconsole coverage", { error: classifyError(err).message, err });
      },
    );
  }

  /** Records the Event of a node's change of flag, if it changed; true when one was recorded. */
  private async flagTransition(node: V1Node, state: CoverageState, lastSeenMs: number | undefined): Promise<boolean> {
    const name = node.metadata?.name ?? "";
    const at = new Date(lastSeenMs ?? 0).toISOString();
    if (state === "silent" && !this.flagged.has(name)) {
      this.deps.log.warn("Flagged node whose netconsole fell silent", { node: name, lastSeen: at });
      const message = `netconsole not heard from this node since ${at} (over ${this.silentAfterMs / 1000} s): a kernel panic here would go unrecorded. Check the lastgasp agent on this node.`;
      // Flagged only once its Event exists: a failed Event is tried again at the next check.
      if (!(await this.event(node, "Warning", COVERAGE_REASONS.silent, message))) return false;
      this.flagged.add(name);
      return true;
    }
    if (state === "silent" || !this.flagged.has(name)) return false;
    this.flagged.delete(name);
    if (state !== "covered") return false; // the annotation was removed: nothing to announce
    return this.event(node, "Normal", COVERAGE_REASONS.heard, `netconsole heard from this node again at ${at}.`);
  }

  /** One Warning Event per reason the node's agent gives for not running netconsole; true when one was recorded. */
  private async flagUnavailable(node: V1Node, reason: string | undefined): Promise<boolean> {
    const name = node.metadata?.name ?? "";
    if (reason === undefined) {
      this.unavailable.delete(name);
      return false;
    }
    if (this.unavailable.get(name) === reason) return false;
    const message = `the lastgasp agent on this node cannot set up netconsole: ${reason}. A kernel panic here would go unrecorded.`;
    if (!(await this.event(node, "Warning", COVERAGE_REASONS.unavailable, message))) return false;
    this.unavailable.set(name, reason);
    return true;
  }

  private async event(node: V1Node, type: "Normal" | "Warning", reason: string, message: string): Promise<boolean> {
    const ref = nodeRef(node);
    try {
      await this.deps.writer.recordEvent(ref, type, reason, message);
      return true;
    } catch (err) {
      this.deps.log.warn("Failed to record a coverage Event", {
        node: ref.name,
        reason,
        error: classifyError(err).message,
        err,
      });
      return false;
    }
  }
}
