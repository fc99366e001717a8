// The world of reconcile's unit tests: an in-memory store (reconcile-store.ts), the reconciler's real trackers
// and guards, two clocks the test moves, and builders for nodes, pods, Leases and panics.
import assert from "node:assert/strict";
import type { V1Lease, V1Node, V1Pod } from "@kubernetes/client-node";
import type { KernelPanicEvent, StreamEvidence } from "../../operator/api/kernelpanicevent.ts";
import { createLogger } from "../../operator/log.ts";
import { CascadeTracker } from "../../operator/reconciler/fleet/cascade.ts";
import type { CascadeAction } from "../../operator/reconciler/remediation/cascade-report.ts";
import { CONDITIONS, getCondition } from "../../operator/reconciler/status/conditions.ts";
import { ForgeryGuard } from "../../operator/reconciler/fleet/forgery.ts";
import { CrashLoopTracker } from "../../operator/reconciler/fleet/crashloop.ts";
import { LivenessWatch } from "../../operator/reconciler/corroboration/lease-liveness.ts";
import { ReconcilerMetrics } from "../../operator/reconciler/metrics.ts";
import { RemediationProgress } from "../../operator/reconciler/remediation/progress.ts";
import type { NodeAction } from "../../operator/reconciler/remediation/node.ts";
import type { ReconcileDeps } from "../../operator/reconciler/reconcile.ts";
import { StormGuard } from "../../operator/reconciler/fleet/stormguard.ts";
import { Store } from "./reconcile-store.ts";
import { trimNode, type CachedNode } from "../../operator/kube/reader.ts";

export const PANIC_AT = Date.parse("2026-12-02T10:00:00Z");
export const TTL_MS = 3_600_000;
export const REFUSED_TTL_MS = 600_000;

export interface World {
  readonly store: Store;
  /**
   * What the node cache holds: "store" (default) the store's Nodes trimmed as the watch keeps them (a synced,
   * current cache); a list of Nodes for a cache that lags; undefined for one not synced or whose watch is down.
   */
  nodeCache: "store" | V1Node[] | undefined;
  /** The reconciler's parts; restart() replaces them. */
  readonly deps: ReconcileDeps;
  /** Moves both clocks (wall and monotonic) forward. */
  advance(ms: number): void;
  /** A reconciler process started afresh on the same cluster: what it kept in memory is gone. */
  restart(): void;
}

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

export function world(
  options: {
    nodeAction?: NodeAction;
    leaseCheck?: boolean;
    stormMaxNodes?: number;
    dryRun?: boolean;
    cascadeAction?: CascadeAction;
    /** The probe reconcile asks (off by default: the Lease alone corroborates). */
    probes?: ReconcileDeps["probes"];
  } = {},
): World {
  const store = new Store();
  store.dryRun = options.dryRun ?? false;
  let nowMs = PANIC_AT + 1000;
  let monotonicMs = 0;
  const cache = { held: "store" as World["nodeCache"] };
  const makeDeps = (): ReconcileDeps => ({
    reader: store,
    writer: store,
    nodes: {
      snapshot: () =>
        cache.held === "store" ? store.nodes.map((n) => trimNode(structuredClone(n) as CachedNode)) : cache.held,
    },
    guard: new StormGuard({ maxNodes: options.stormMaxNodes ?? 10, maxPercent: 100, windowMs: 600_000 }),
    liveness: new LivenessWatch(2000, { monotonicMs: () => monotonicMs }),
    probes: options.probes,
    forgery: new ForgeryGuard({ threshold: 2, windowMs: 600_000, holdMs: 3_600_000, maxNodes: 100 }),
    progress: new RemediationProgress(100),
    crashLoop: new CrashLoopTracker({ threshold: 3, windowMs: DAY_MS, maxNodes: 100 }),
    cascade: new CascadeTracker({ windowMs: HOUR_MS, maxWorkloads: 100 }),
    metrics: new ReconcilerMetrics(),
    log: createLogger("silent", "reconciler"),
    now: () => new Date(nowMs),
    options: {
      nodeAction: options.nodeAction ?? "delete",
      addressTypes: ["InternalIP"],
      remediateControlPlane: false,
      colocationWarnReplicas: 2,
      leaseCheck: options.leaseCheck ?? false,
      eventTtlMs: TTL_MS,
      refusedEventTtlMs: REFUSED_TTL_MS,
      podConcurrency: 4,
      crashLoopWindowMs: DAY_MS,
      cascadeAction: options.cascadeAction ?? "hold",
      cascadeWindowMs: HOUR_MS,
    },
  });
  let deps = makeDeps();
  return {
    store,
    get nodeCache() {
      return cache.held;
    },
    set nodeCache(held) {
      cache.held = held;
    },
    get deps() {
      return deps;
    },
    advance: (ms) => {
      nowMs += ms;
      monotonicMs += ms;
    },
    restart: () => {
      deps = makeDeps();
    },
  };
}

export function node(
  name: string,
  ip: string,
  extra: { labels?: Record<string, string>; createdMs?: number } = {},
): V1Node {
  return {
    metadata: {
      name,
      uid: `uid-${name}`,
      labels: extra.labels ?? {},
      creationTimestamp: new Date(extra.createdMs ?? PANIC_AT - 86_400_000),
    },
    status: {
      addresses: [{ type: "InternalIP", address: ip }],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: nodeInfo(bootIdOf(name)),
    },
  };
}

/** The boot id node() gives a Node (a UUID made from its name, so tests can name it). */
export function bootIdOf(name: string): string {
  const hex = Buffer.from(name).toString("hex").padEnd(32, "0").slice(0, 32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function nodeInfo(bootID: string): NonNullable<V1Node["status"]>["nodeInfo"] {
  const unset = "";
  return {
    bootID,
    architecture: "amd64",
    containerRuntimeVersion: unset,
    kernelVersion: unset,
    kubeProxyVersion: unset,
    kubeletVersion: unset,
    machineID: unset,
    operatingSystem: "linux",
    osImage: unset,
    systemUUID: unset,
  };
}

/** What the receiver records about a panic that continued `nodeName`'s stream anchored by its self-test. */
export function continuousStream(nodeName: string, bootID = bootIdOf(nodeName)): StreamEvidence {
  return {
    continuity: "Continuous",
    node: nodeName,
    bootID,
    previousSequence: 41,
    secondsSinceHeard: 12.5,
    driftMilliseconds: 3,
  };
}

export function pod(name: string, nodeName: string, phase = "Running"): V1Pod {
  return {
    metadata: { name, namespace: "default", uid: `uid-${name}` },
    spec: { nodeName, containers: [] },
    status: { phase },
  };
}

export function lease(nodeName: string, resourceVersion: string): V1Lease {
  return {
    metadata: { name: nodeName, namespace: "kube-node-lease", resourceVersion },
    spec: { holderIdentity: nodeName, leaseDurationSeconds: 4, renewTime: new Date(PANIC_AT - 1000) },
  };
}

export function panicEvent(name: string, hostIP: string, userdata?: Record<string, string>): KernelPanicEvent {
  return {
    apiVersion: "lastgasp.dev/v1alpha1",
    kind: "KernelPanicEvent",
    metadata: { name, uid: `uid-${name}`, generation: 1 },
    spec: {
      hostIP,
      firstLine: "Kernel panic - not syncing: sysrq triggered crash",
      reason: "sysrq triggered crash",
      contextLines: [],
      detectedTime: new Date(PANIC_AT).toISOString(),
      receivedBy: "test",
      ...(userdata === undefined ? {} : { userdata }),
    },
  };
}

/** A node with two running pods and one finished one, and its panic. */
export function panickedNode(w: World, name = "node-a", ip = "10.0.0.1"): KernelPanicEvent {
  w.store.nodes.push(node(name, ip));
  for (const p of [pod(`${name}-web`, name), pod(`${name}-job`, name), pod(`${name}-done`, name, "Succeeded")])
    w.store.pods.set(`default/${p.metadata!.name!}`, p);
  const event = panicEvent(`kpe-${name}`, ip);
  w.store.events.set(event.metadata.name, event);
  return event;
}

export function remediated(w: World, name: string) {
  return getCondition(w.store.events.get(name)?.status, CONDITIONS.remediated);
}

/** No write touched a pod or a node. */
export function touchedNothing(w: World): void {
  const touching = w.store.writes.filter((e) => !e.startsWith("status") && !e.startsWith("event"));
  assert.deepEqual(touching, [], "a pod or node was written");
}
