// Every annotation, label, taint and reason lastgasp writes or reads, prefixed with its domain, in one place.

export const ANNOTATIONS = {
  /** Human text: why the pod or node was terminated. */
  terminationReason: "lastgasp.dev/termination-reason",
  /** Short machine code, always "KernelPanic". */
  terminationReasonCode: "lastgasp.dev/termination-reason-code",
  /** Who did it, always "lastgasp". */
  terminatedBy: "lastgasp.dev/terminated-by",
  /** The KernelPanicEvent that explains it. */
  kernelPanicEvent: "lastgasp.dev/kernel-panic-event",
  /**
   * On a Node: when the receiver last heard the node agent's netconsole self-test from it (RFC 3339). Written at
   * most once a minute per node; the reconciler flags nodes whose value grows old.
   */
  netconsoleLastSeen: "lastgasp.dev/netconsole-last-seen",
  /** On a Node: "<boot id>/<sequence>" of a panic its kernel outlived (receiver/main/after-panic.ts). */
  netconsoleAfterPanic: "lastgasp.dev/netconsole-after-panic",
  /** On a Node: why its agent cannot set up netconsole there (receiver/main/coverage-recorder.ts); gone once it is heard. */
  netconsoleUnavailable: "lastgasp.dev/netconsole-unavailable",
  /**
   * On a Node: which last words it keeps besides netconsole (a pstore backend, a kdump kernel loaded), written by
   * its own agent (api/last-words.ts).
   */
  lastWords: "lastgasp.dev/last-words",
  /** Set to "true" on a KernelPanicEvent held by the storm guard to release it. */
  approve: "lastgasp.dev/approve",
} as const;

export const LABELS = {
  /** Nodes labelled lastgasp.dev/exclude=true are never touched. */
  exclude: "lastgasp.dev/exclude",
  controlPlane: "node-role.kubernetes.io/control-plane",
  /** On a KernelPanicEvent: its crash signature's id (kubectl get kpe -l lastgasp.dev/signature=<id>). */
  signature: "lastgasp.dev/signature",
} as const;

/** Non-graceful node shutdown: Kubernetes force-deletes the pods and detaches their volumes. */
export const OUT_OF_SERVICE_TAINT = {
  key: "node.kubernetes.io/out-of-service",
  value: "nodeshutdown",
  effect: "NoExecute",
} as const;

export const REASON_CODE = "KernelPanic";
/**
 * The Node condition set when the Node is kept (nodeAction taint or none), for repair systems (Node Health
 * Check, autoscalers' node repair) that act on Node conditions. It stays True until whoever repairs the node
 * clears it, as with the out-of-service taint.
 */
export const NODE_CONDITION = "KernelPanic";
export const TERMINATED_BY = "lastgasp";
export const DISRUPTION_TARGET = "DisruptionTarget";
export const NODE_LEASE_NAMESPACE = "kube-node-lease";
