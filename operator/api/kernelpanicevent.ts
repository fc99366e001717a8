// The KernelPanicEvent custom resource: the one hand-off between the receiver (which writes spec) and the
// reconciler (which writes status). These types are the code's view of crds/lastgasp.dev_kernelpanicevents.yaml;
// a unit test keeps the two in agreement.

export const GROUP = "lastgasp.dev";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = "KernelPanicEvent";
export const PLURAL = "kernelpanicevents";

/** Upper bounds on every string and list, enforced by the CRD and applied by the code before writing. */
export const LIMITS = {
  hostIP: 45, // the longest textual IPv6 address
  firstLine: 1024,
  reason: 512,
  cause: 1024,
  contextLine: 1024,
  contextLines: 100,
  release: 64, // __NEW_UTS_LEN
  signatureTitle: 256,
  signatureFrames: 3,
  signatureFrame: 128, // KSYM_NAME_LEN
  userdataEntries: 16, // netconsole's MAX_USERDATA_ITEMS
  userdataKey: 53, // netconsole's MAX_EXTRADATA_NAME_LEN
  userdataValue: 200, // netconsole's MAX_EXTRADATA_VALUE_LEN
  receivedBy: 253,
  source: 16,
  bootID: 36,
  streamMessage: 512,
  nodeName: 253,
  conditions: 8,
  workloads: 32,
  suspects: 8,
  suspectEvents: 16,
  workloadName: 253,
  /** Pods listed in status.pods: a node's default capacity is 110; large nodes run up to ~250. */
  pods: 256,
} as const;

/** What the receiver recorded about one kernel panic. Immutable once written. */
export interface KernelPanicEventSpec {
  /** The address the netconsole packets came from: the node's IP. */
  hostIP: string;
  /** The panic line without console prefixes: `Kernel panic - not syncing: …`. */
  firstLine: string;
  /** The text after `not syncing: `. */
  reason: string;
  /** The oops / BUG / WARNING / hung-task / soft-lockup header that preceded the panic, when there was one. */
  cause?: string;
  /** Lines around the panic from the same source: what preceded it (the oops, the call trace) and what followed. */
  contextLines: string[];
  /** When the receiver saw the panic line (RFC 3339). */
  detectedTime: string;
  /** The kernel release, when the packets carried it (extended mode with `release` on). */
  release?: string;
  /** The crash signature, the same for the same bug on every node and boot (also the label lastgasp.dev/signature). */
  signature?: { id: string; title: string; frames?: string[] };
  /** The printk sequence number of the panic line (extended mode). */
  sequence?: number;
  /** Seconds since boot at the panic line, from the console timestamp. */
  uptimeSeconds?: number;
  /** netconsole userdata key=value pairs (e.g. node=<name>). */
  userdata?: Record<string, string>;
  /** Whether the panic line continued the node's own netconsole stream (see StreamEvidence). */
  stream?: StreamEvidence;
  /** Which receiver recorded the event. */
  receivedBy: string;
  /**
   * Where the panic was heard: netconsole as it happened (also when absent), or recovered after the node rebooted
   * from what the kernel kept, pstore or kdump. A recovered panic is history: the reconciler never acts on it.
   */
  source?: PanicSource;
  /**
   * The Node whose agent recovered the panic (pstore, kdump): the node claim of the agent's token, checked at
   * admission. Absent on events the receiver records (the reconciler resolves those from hostIP).
   */
  nodeName?: string;
}

export const SOURCES = ["netconsole", "pstore", "kdump"] as const;
export type PanicSource = (typeof SOURCES)[number];

/** Recovered after a reboot (pstore, kdump): the node's pods and the node itself were dealt with back then. */
export function isRecovered(spec: Pick<KernelPanicEventSpec, "source">): boolean {
  return spec.source !== undefined && spec.source !== "netconsole";
}

export const CONTINUITY = ["Continuous", "Broken", "Unanchored", "Plain"] as const;

/**
 * Whether the panic line continued the stream anchored by the node agent's self-test (its node name and boot id):
 * sequence number ahead of the last record heard, timestamp moved as far as the receiver's clock.
 */
export interface StreamEvidence {
  continuity: (typeof CONTINUITY)[number];
  node?: string;
  bootID?: string;
  previousSequence?: number;
  secondsSinceHeard?: number;
  driftMilliseconds?: number;
  /** Why it did not continue the stream (Broken). */
  message?: string;
}

/**
 * Whether a stream's anchor (the self-test's node name and boot id) is this Node in its current boot: the one rule
 * the receiver (to record such a panic whatever its budget) and the reconciler (to act on the probe) both apply.
 * A Node with no boot id known is never matched.
 */
export function isAnchoredBy(
  anchor: { readonly node?: string; readonly bootID?: string },
  node: { readonly name: string; readonly bootID: string },
): boolean {
  return node.bootID !== "" && anchor.node === node.name && anchor.bootID === node.bootID;
}

/**
 * The Node annotation lastgasp.dev/netconsole-after-panic: the boot and the panic (by its sequence number) that
 * the node's kernel outlived, as the receiver heard (receiver/main/after-panic.ts) and the reconciler reads it.
 */
export function afterPanicStamp(bootID: string, panicSequence: number): string {
  return `${bootID}/${panicSequence}`;
}

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** A pod's top owner: Deployment (through its ReplicaSet), StatefulSet, CronJob (through its Job), Job… */
export interface Workload {
  kind: string;
  apiVersion: string;
  namespace: string;
  name: string;
  /** Its pods on the node when it was remediated. */
  pods: number;
  /** When the newest of them was created: after another node's panic, the workload followed that crash here. */
  newestPod?: string;
}

/**
 * A pod lastgasp acted on for this panic (its node is status.nodeName). Recorded before any of them is deleted,
 * so the record outlives the pods, their annotations and their owners' Events.
 */
export interface PodRecord {
  namespace: string;
  name: string;
  uid: string;
  /** The pod's controller (ReplicaSet, StatefulSet, Job…); none for a bare pod. */
  owner?: { kind: string; name: string };
  /**
   * Failed: marked Failed with a DisruptionTarget condition and deleted. Annotated: it had finished before the
   * panic, so only annotated (its outcome stands). Done once PodsTerminated is True.
   */
  action: PodAction;
}

export type PodAction = "Failed" | "Annotated";

/** A workload that was on other nodes that panicked within the cascade window: its pods may be what crashes them. */
export interface Suspect {
  kind: string;
  namespace: string;
  name: string;
  /** How many of the panicked nodes it was on, this one included. */
  nodes: number;
  /** The KernelPanicEvents of those nodes, oldest first, this one last. */
  events: string[];
}

/** What the reconciler observed and did. */
export interface KernelPanicEventStatus {
  nodeName?: string;
  /** Sources that recovered the same panic after the node rebooted (its pstore or kdump record matched this one). */
  confirmedBy?: PanicSource[];
  /** The node's pods by top owner (DaemonSets and bare pods left out), captured before they were failed. */
  workloads?: Workload[];
  /** Workloads that were also on other nodes that panicked within the cascade window. */
  suspects?: Suspect[];
  /** The pods lastgasp acted on, at most LIMITS.pods; each once (by UID). */
  pods?: PodRecord[];
  /** Pods acted on beyond LIMITS.pods: counted, not listed. */
  podsNotListed?: number;
  conditions?: Condition[];
  observedGeneration?: number;
  podsFailed?: number;
  podsDeleted?: number;
  remediatedTime?: string;
  remediationSeconds?: number;
}

export interface KernelPanicEvent {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: {
    name: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
  };
  spec: KernelPanicEventSpec;
  status?: KernelPanicEventStatus;
}
