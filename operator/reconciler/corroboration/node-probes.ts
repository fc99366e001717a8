// Probing nodes to corroborate a panic (net/tcp-probe.ts says what one connect means).
//
// Baseline: while it leads, the reconciler connects to every node's kubelet port once per interval, the connects
// spread over the interval and at most `concurrency` in flight, and remembers when each node last answered (on its
// own monotonic clock; bounded to `maxNodes`). Corroboration: after a panic, a node that answered within the last
// FRESH_INTERVALS intervals gets `attempts` connects within `windowMs`, while up to `controls` other nodes that
// answered recently (its zone first) get one each. The panic is corroborated only when the node gave no answer at
// all, none of its connects failed with an error, and every control answered: the silence is the node's, not the
// reconciler's own network's. An answer means alive; anything else is inconclusive and the Lease decides.
import type { V1Node } from "@kubernetes/client-node";
import { isIP } from "node:net";
import { setNewest, trimOldest } from "../../bounded.ts";
import type { Clock } from "../../clock.ts";
import { forEachLimit, repeatEvery } from "../../concurrency.ts";
import { isAnswer, type Probe, type ProbeOutcome, type ProbeResult } from "../../net/tcp-probe.ts";

export const ZONE_LABEL = "topology.kubernetes.io/zone";
/**
 * A baseline answer counts this many intervals, or this many sweeps when sweeps came late (one overran its
 * interval, so the next was skipped): one lost probe does not cost a node its baseline...
 */
export const FRESH_INTERVALS = 2;
/** ...but never more than this many intervals, however late the sweeps (a wedged sweep keeps nothing fresh). */
const STALE_INTERVALS = 4;
/** The share of the interval the baseline connects are spread over (the rest absorbs slow connects). */
const SPREAD = 0.8;

export interface ProbeTarget {
  readonly node: string;
  readonly address: string;
  readonly port: number;
  readonly zone?: string;
}

export interface ProbeOptions {
  /** Each node is probed once per interval. */
  readonly intervalMs: number;
  /** A baseline connect that took longer gave no answer. */
  readonly timeoutMs: number;
  /** After a panic: how long the node must stay silent. */
  readonly windowMs: number;
  readonly attempts: number;
  readonly controls: number;
  readonly concurrency: number;
  readonly maxNodes: number;
  /** Which of a Node's addresses is probed: the first of these types that is an IP. */
  readonly addressTypes: readonly string[];
}

export type ProbePhase = "baseline" | "panic" | "control";

export type ProbeVerdict =
  | { readonly kind: "silent"; readonly target: ProbeTarget; readonly controls: readonly string[] }
  | { readonly kind: "answered"; readonly target: ProbeTarget; readonly outcome: ProbeOutcome }
  | { readonly kind: "noBaseline"; readonly why: string }
  | { readonly kind: "inconclusive"; readonly why: string };

/** Where a node's kubelet listens: its first address of `addressTypes` (in that order) that is an IP. */
export function probeTarget(node: V1Node, addressTypes: readonly string[]): ProbeTarget | undefined {
  const port = kubeletPort(node);
  const addresses = node.status?.addresses ?? [];
  const address = addressTypes
    .map((type) => addresses.find((a) => a.type === type && isIP(a.address) !== 0))
    .find((a) => a !== undefined)?.address;
  if (port === undefined || address === undefined) return undefined;
  const zone = node.metadata?.labels?.[ZONE_LABEL];
  return { node: node.metadata?.name ?? "", address, port, ...(zone === undefined ? {} : { zone }) };
}

function kubeletPort(node: V1Node): number | undefined {
  const port = node.status?.daemonEndpoints?.kubeletEndpoint?.Port ?? 0;
  return Number.isInteger(port) && port >= 1 && port <= 65_535 ? port : undefined;
}

interface Seen {
  readonly target: ProbeTarget;
  readonly lastAnswerMs: number | undefined;
}

/** What NodeProbes works with: the connect, where results are counted, and its clock. */
export interface ProbeDeps {
  readonly probe: Probe;
  readonly onResult?: (phase: ProbePhase, outcome: ProbeOutcome) => void;
  /** After each sweep of start(): how many nodes have a fresh baseline now. */
  readonly onSweep?: (baselined: number) => void;
  /** What start() sweeps: every Node, each at its kubelet's address (probeTarget). */
  readonly nodes?: { listNodes(): Promise<readonly V1Node[]> };
  /** A sweep that failed (the Node list could not be read): logged, and the next sweep comes as usual. */
  readonly onSweepError?: (err: unknown) => void;
  /** Its monotonic clock (when nodes answered) and its waits (the spread of a sweep, the attempts' stagger). */
  readonly clock: Clock;
}

export class NodeProbes {
  private readonly seen = new Map<string, Seen>();
  /** When the last FRESH_INTERVALS sweeps started (monotonic), oldest first. */
  private readonly sweepStarts: number[] = [];
  private readonly options: ProbeOptions;
  private readonly probe: Probe;
  private readonly onResult: (phase: ProbePhase, outcome: ProbeOutcome) => void;
  private readonly onSweep: (baselined: number) => void;
  private readonly deps: ProbeDeps;
  private readonly clock: Clock;

  constructor(options: ProbeOptions, deps: ProbeDeps) {
    this.options = options;
    this.deps = deps;
    this.probe = deps.probe;
    this.onResult = deps.onResult ?? (() => undefined);
    this.onSweep = deps.onSweep ?? (() => undefined);
    this.clock = deps.clock;
  }

  /** Nodes with a baseline answer fresh enough to corroborate a panic now. */
  get baselined(): number {
    const since = this.freshSince();
    return [...this.seen.values()].filter((s) => answeredSince(s, since)).length;
  }

  /** Sweeps the Nodes every interval (never two at once) until the returned function is called. */
  start(): () => Promise<void> {
    const { nodes, onSweepError } = this.deps;
    if (nodes === undefined) throw new Error("NodeProbes.start needs deps.nodes");
    const abort = new AbortController();
    const sweep = async () => {
      const targets = (await nodes.listNodes()).flatMap((node) => probeTarget(node, this.options.addressTypes) ?? []);
      await this.sweep(targets, abort.signal);
      if (!abort.signal.aborted) this.onSweep(this.baselined);
    };
    const stop = repeatEvery(this.clock, this.options.intervalMs, sweep, onSweepError ?? (() => undefined));
    return async () => {
      abort.abort();
      await stop();
    };
  }

  /** Probes every target once, the starts spread over most of an interval. Nodes not listed are forgotten. */
  async sweep(targets: readonly ProbeTarget[], signal?: AbortSignal): Promise<void> {
    const listed = new Set(targets.map((t) => t.node));
    for (const node of this.seen.keys()) if (!listed.has(node)) this.seen.delete(node);
    const stepMs = targets.length === 0 ? 0 : (this.options.intervalMs * SPREAD) / targets.length;
    const startMs = this.clock.monotonicMs();
    this.sweepStarts.push(startMs);
    if (this.sweepStarts.length > FRESH_INTERVALS) this.sweepStarts.shift();
    const slots = targets.map((target, i) => ({ target, atMs: startMs + i * stepMs }));
    await forEachLimit(slots, this.options.concurrency, async ({ target, atMs }) => {
      const waitMs = atMs - this.clock.monotonicMs();
      if (waitMs > 0) await this.clock.sleep(waitMs, signal);
      if (signal?.aborted === true) return;
      const result = await this.probe(target.address, target.port, this.options.timeoutMs);
      this.remember(target, result, "baseline");
    });
  }

  /** The node probed at `address`, if one was (the most recently probed when several were). */
  targetAt(address: string): ProbeTarget | undefined {
    let found: ProbeTarget | undefined;
    for (const seen of this.seen.values()) if (seen.target.address === address) found = seen.target;
    return found;
  }

  /** The probe's verdict about a node said to have panicked (see the file's comment). */
  async corroborate(target: ProbeTarget): Promise<ProbeVerdict> {
    const missing = this.missingBaseline(target);
    if (missing !== undefined) return { kind: "noBaseline", why: missing };
    const controls = this.pickControls(target);
    if (this.options.controls > 0 && controls.length === 0)
      return { kind: "inconclusive", why: "no other node answered probes recently to compare its silence with" };
    const controlResults = Promise.all(
      controls.map(async (c) => {
        const result = await this.probe(c.address, c.port, this.options.windowMs);
        this.remember(c, result, "control");
        return { node: c.node, answered: isAnswer(result.outcome) };
      }),
    );
    const attempt = await this.attempt(target);
    if (isAnswer(attempt.outcome)) return { kind: "answered", target, outcome: attempt.outcome };
    if (attempt.outcome === "failed")
      return { kind: "inconclusive", why: `connecting to ${endpoint(target)} failed (${attempt.code ?? "?"})` };
    const silentControls = (await controlResults).filter((c) => !c.answered).map((c) => c.node);
    if (silentControls.length > 0)
      return {
        kind: "inconclusive",
        why: `nodes ${silentControls.join(", ")} did not answer either: the reconciler's own network may be at fault`,
      };
    return { kind: "silent", target, controls: controls.map((c) => c.node) };
  }

  /**
   * `attempts` connects, started evenly over the whole window and all given until its end: a loss shorter than
   * the window does not silence them all. Resolves with the first answer, else the first failure, else silent.
   */
  private attempt(target: ProbeTarget): Promise<ProbeResult> {
    const { attempts, windowMs } = this.options;
    const staggerMs = windowMs / attempts;
    let answered = false;
    return new Promise((resolve) => {
      const results = Array.from({ length: attempts }, async (_, k) => {
        if (k > 0) await this.clock.sleep(k * staggerMs);
        if (answered) return { outcome: "silent" } as const;
        const result = await this.probe(target.address, target.port, windowMs - k * staggerMs);
        this.remember(target, result, "panic");
        if (isAnswer(result.outcome)) {
          answered = true;
          resolve(result);
        }
        return result;
      });
      void Promise.all(results).then((all) => {
        resolve(all.find((r) => r.outcome === "failed") ?? { outcome: "silent" });
      });
    });
  }

  private missingBaseline(target: ProbeTarget): string | undefined {
    const seen = this.seen.get(target.node);
    if (seen?.lastAnswerMs === undefined || !sameEndpoint(seen.target, target))
      return `${endpoint(target)} has not answered a probe since this reconciler started leading`;
    const ageMs = this.clock.monotonicMs() - seen.lastAnswerMs;
    if (!answeredSince(seen, this.freshSince()))
      return `${endpoint(target)} last answered a probe ${Math.round(ageMs / 1000)} s ago (more than ${FRESH_INTERVALS} probe intervals)`;
    return undefined;
  }

  /** Other nodes that answered recently: the target's zone first, then the most recent answers. */
  private pickControls(target: ProbeTarget): ProbeTarget[] {
    const since = this.freshSince();
    return [...this.seen.values()]
      .filter((s) => s.target.node !== target.node && answeredSince(s, since))
      .sort(
        (a, b) =>
          Number(b.target.zone === target.zone) - Number(a.target.zone === target.zone) ||
          (b.lastAnswerMs ?? 0) - (a.lastAnswerMs ?? 0),
      )
      .slice(0, this.options.controls)
      .map((s) => s.target);
  }

  /** Answers at or after this are fresh: within two intervals, or two sweeps when they came late (capped). */
  private freshSince(): number {
    const nowMs = this.clock.monotonicMs();
    const byTime = nowMs - FRESH_INTERVALS * this.options.intervalMs;
    const bySweeps = this.sweepStarts.length === FRESH_INTERVALS ? this.sweepStarts[0]! : byTime;
    return Math.max(nowMs - STALE_INTERVALS * this.options.intervalMs, Math.min(byTime, bySweeps));
  }

  private remember(target: ProbeTarget, result: ProbeResult, phase: ProbePhase): void {
    this.onResult(phase, result.outcome);
    const previous = this.seen.get(target.node);
    const kept = previous !== undefined && sameEndpoint(previous.target, target) ? previous.lastAnswerMs : undefined;
    const lastAnswerMs = isAnswer(result.outcome) ? this.clock.monotonicMs() : kept;
    // Newest: the map's order is the order of probing, so the bound drops the node probed longest ago.
    setNewest(this.seen, target.node, { target, lastAnswerMs });
    trimOldest(this.seen, this.options.maxNodes);
  }
}

/** Whether the node's last answer came at or after `sinceMs`: a fresh baseline. */
function answeredSince(seen: Seen, sinceMs: number): boolean {
  return seen.lastAnswerMs !== undefined && seen.lastAnswerMs >= sinceMs;
}

export function sameEndpoint(a: ProbeTarget, b: ProbeTarget): boolean {
  return a.address === b.address && a.port === b.port;
}

function endpoint(target: ProbeTarget): string {
  return `Node ${target.node}'s kubelet port ${target.address.includes(":") ? `[${target.address}]` : target.address}:${target.port}`;
}
