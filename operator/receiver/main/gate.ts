// Between detection and the write queue: only panics from some Node's address become KernelPanicEvents, and each
// source stays within its event budget. A junk flood from addresses that are no node's, or from one address,
// then costs nothing downstream and cannot crowd out another node's real panic. A panic that continued the
// stream anchored by its Node's boot id (continuity.ts) is never held or replaced: forged panics in the node's
// name, which cannot continue that stream, may spend its budget but never hide it.
//
// The node addresses come from a Node watch (node-addresses.ts) while it is open: current within moments. While it
// is not, they are a read-only cache listed every `refreshMs`, and at once (at most every `minRefreshMs`) when a
// panic comes from an address it does not know. A panic from an unknown address waits up to `minRefreshMs` for the
// watch (or the next list) to know it, then is dropped. Until the addresses are first known (no API server yet)
// every address passes: nobody can verify, and the write would have to wait for the API server anyway.
import { isAnchoredBy } from "../../api/kernelpanicevent.ts";
import type { Clock } from "../../clock.ts";
import type { NodeIdentity } from "../../kube/reader.ts";
import type { Logger } from "../../log.ts";
import { limitKey } from "../../net/addresses.ts";
import { EventBudget, type EventBudgetOptions } from "./budget.ts";
import type { PanicReport } from "../ingest-messages.ts";
import type { ReceiverMetrics } from "../metrics.ts";
import type { PanicRecorder } from "./recorder.ts";

/** Where the gate learns the Nodes' addresses: the API's Node list (kube/reader.ts). */
export interface NodeAddressSource {
  listNodeAddresses(): Promise<ReadonlyMap<string, NodeIdentity>>;
}

/** The addresses as a Node watch keeps them (node-addresses.ts): undefined while it is not open. */
export interface WatchedNodeAddresses {
  current(): ReadonlyMap<string, NodeIdentity> | undefined;
}

/** The gate's neighbours: the Node watch and list before it, the write queue after it. */
export interface PanicGateDeps {
  readonly nodes: NodeAddressSource;
  readonly watched?: WatchedNodeAddresses;
  readonly recorder: PanicRecorder;
  readonly metrics: ReceiverMetrics;
  readonly log: Logger;
  readonly clock: Clock;
}

export interface PanicGateOptions {
  /** Record panics only from Node addresses. */
  readonly nodeSourcesOnly: boolean;
  readonly refreshMs: number;
  readonly minRefreshMs: number;
  /** Panics from unknown addresses held at once, waiting for a refresh; more are dropped and counted. */
  readonly maxUnverified: number;
  readonly budget: EventBudgetOptions;
}

export class PanicGate {
  private readonly options: PanicGateOptions;
  private readonly nodes: NodeAddressSource;
  private readonly watched: WatchedNodeAddresses | undefined;
  private readonly recorder: PanicRecorder;
  private readonly metrics: ReceiverMetrics;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly budget: EventBudget;
  private addresses: ReadonlyMap<string, NodeIdentity> | undefined;
  /** Panics from addresses no Node had when they came, and when they came. */
  private readonly unverified = new Map<string, { report: PanicReport; heldAtMs: number }>();
  private refreshing: Promise<void> | undefined;
  private lastRefreshMs = Number.NEGATIVE_INFINITY;

  constructor(options: PanicGateOptions, deps: PanicGateDeps) {
    this.options = options;
    this.nodes = deps.nodes;
    this.watched = deps.watched;
    this.recorder = deps.recorder;
    this.metrics = deps.metrics;
    this.log = deps.log;
    this.clock = deps.clock;
    this.budget = new EventBudget(options.budget, (dropped) => {
      this.drop("event_budget", dropped, "a newer panic from the same source replaced it while over budget");
    });
  }

  /** The Node the address cache knows at `hostIP` (undefined before the first refresh, or for no Node's address). */
  identityOf(hostIP: string): NodeIdentity | undefined {
    return this.known()?.get(hostIP);
  }

  /** The addresses as the Node watch keeps them while it is open, else as last listed. */
  private known(): ReadonlyMap<string, NodeIdentity> | undefined {
    return this.watched?.current() ?? this.addresses;
  }

  /** Panics waiting: for a node-address refresh, or for their source's budget. */
  get deferred(): number {
    return this.unverified.size + this.budget.deferredCount;
  }

  /** A detected panic: passed on, held for a node-cache refresh, or waiting for its source's budget. */
  offer(report: PanicReport, nowMs: number): void {
    const known = this.known();
    if (!this.options.nodeSourcesOnly || known === undefined || known.has(report.hostIP)) {
      this.spend(report, nowMs);
      return;
    }
    const held = this.unverified.get(report.hostIP);
    if (held === undefined && this.unverified.size >= this.options.maxUnverified) {
      this.drop("unknown_source", report, "too many panics from unknown addresses are waiting already");
      return;
    }
    this.unverified.set(report.hostIP, { report, heldAtMs: held?.heldAtMs ?? nowMs });
    this.maybeRefresh(nowMs);
  }

  /** Regular housekeeping: deferred panics whose budget allows, the periodic refresh. */
  tick(nowMs: number): void {
    for (const report of this.budget.due(nowMs)) this.recorder.record(report);
    this.maybeRefresh(nowMs);
  }

  /** Shutdown: whatever is still waiting is passed on rather than lost. */
  drain(): void {
    const held = [...this.unverified.values()].map((h) => h.report);
    for (const report of [...held, ...this.budget.drain()]) this.recorder.record(report);
    this.unverified.clear();
  }

  /** Waits for a refresh under way (tests, shutdown). */
  async settled(): Promise<void> {
    await this.refreshing;
  }

  private spend(report: PanicReport, nowMs: number): void {
    if (this.continuesNodeStream(report)) {
      // The node's own stream, anchored by its boot id: no forger made it, so no forgery may have spent its budget.
      this.budget.spend(this.budgetKey(report.hostIP), nowMs);
      this.recorder.record(report);
      return;
    }
    const admitted = this.budget.admit(report, this.budgetKey(report.hostIP), nowMs);
    if (admitted !== undefined) this.recorder.record(admitted);
    else this.log.warn("Deferred KernelPanicEvent: its source is over its event budget", { hostIP: report.hostIP });
  }

  /** A Node's address is its own budget; other sources share one per IPv6 /64 (one host may hold them all). */
  private budgetKey(hostIP: string): string {
    return this.known()?.has(hostIP) === true ? hostIP : limitKey(hostIP);
  }

  /** The panic continued the stream anchored by the self-test of the Node at its address, in the Node's boot. */
  private continuesNodeStream(report: PanicReport): boolean {
    const identity = this.known()?.get(report.hostIP);
    const continuity = report.continuity;
    return (
      identity !== undefined &&
      continuity?.kind === "continuous" &&
      isAnchoredBy(
        { node: continuity.anchor.node, bootID: continuity.anchor.bootId },
        { name: identity.node, bootID: identity.bootID },
      )
    );
  }

  /**
   * With the watch open: the held panics its addresses now know pass, those held for minRefreshMs are dropped.
   * Without: lists node addresses when due, every refreshMs, or minRefreshMs after the last when a panic is held.
   */
  private maybeRefresh(nowMs: number): void {
    if (!this.options.nodeSourcesOnly) return;
    const watched = this.watched?.current();
    if (watched !== undefined) {
      // Kept as the last known: should the watch go down, the gate still knows every node until a list.
      this.addresses = watched;
      this.metrics.nodeAddresses.set(watched.size);
      this.settleWatched(watched, nowMs);
      return;
    }
    if (this.refreshing !== undefined) return;
    const interval = this.unverified.size > 0 ? this.options.minRefreshMs : this.options.refreshMs;
    if (nowMs - this.lastRefreshMs < interval) return;
    this.lastRefreshMs = nowMs;
    this.refreshing = this.nodes
      .listNodeAddresses()
      .then(
        (addresses) => {
          this.addresses = addresses;
          this.metrics.nodeAddresses.set(addresses.size);
          this.settle(this.clock.nowMs());
        },
        (err: unknown) => {
          this.log.warn("Could not list node addresses; keeping the last known", { err });
        },
      )
      .finally(() => {
        this.refreshing = undefined;
      });
  }

  private settle(nowMs: number): void {
    for (const [address, { report }] of this.unverified) {
      this.unverified.delete(address);
      if (this.addresses?.has(address) === true) this.spend(report, nowMs);
      else this.drop("unknown_source", report, "its source address is no Node's address");
    }
  }

  private settleWatched(addresses: ReadonlyMap<string, NodeIdentity>, nowMs: number): void {
    for (const [address, { report, heldAtMs }] of this.unverified) {
      if (addresses.has(address)) {
        this.unverified.delete(address);
        this.spend(report, nowMs);
      } else if (nowMs - heldAtMs >= this.options.minRefreshMs) {
        this.unverified.delete(address);
        this.drop("unknown_source", report, "its source address is no Node's address");
      }
    }
  }

  private drop(reason: "unknown_source" | "event_budget", report: PanicReport, why: string): void {
    this.metrics.drops.inc({ reason });
    this.log.warn(`Dropped kernel panic: ${why}`, {
      hostIP: report.hostIP,
      reason: report.reason,
      firstLine: report.firstLine,
    });
  }
}
