// The reconciler's settings. Each maps one-to-one to a Helm value of the same name under `reconciler.`.
import { hostname } from "node:os";
import { httpAddressSetting, kubeconfigSetting, logFormatSetting, logLevelSetting } from "./common.ts";
import { boolean, integer, list, oneOf, text, type Setting } from "./settings.ts";

const nodeAddressTypes = ["InternalIP", "ExternalIP", "Hostname", "InternalDNS", "ExternalDNS"];

export const reconcilerSettings = {
  httpAddress: httpAddressSetting("0.0.0.0:8081"),
  kubeconfig: kubeconfigSetting,
  dryRun: {
    name: "dryRun",
    description: "Compute and report what would be done (status, Events, logs); change no pod or node.",
    default: false,
    parse: boolean,
  } satisfies Setting<boolean>,
  nodeAction: {
    name: "nodeAction",
    description:
      "What to do with the panicked Node after its pods: delete, taint (node.kubernetes.io/out-of-service) or none.",
    default: "delete",
    parse: oneOf("delete", "taint", "none"),
  } satisfies Setting<"delete" | "taint" | "none">,
  nodeAddressTypes: {
    name: "nodeAddressTypes",
    description: `Node address types matched against the panic's source IP (comma-separated: ${nodeAddressTypes.join(", ")}).`,
    default: ["InternalIP"],
    parse: (raw) => {
      const types = list(raw);
      const unknown = types.filter((t) => !nodeAddressTypes.includes(t));
      if (types.length === 0 || unknown.length > 0)
        throw new Error(`expected some of ${nodeAddressTypes.join(", ")}, got ${JSON.stringify(raw)}`);
      return types;
    },
  } satisfies Setting<string[]>,
  remediateControlPlane: {
    name: "remediateControlPlane",
    description: "Also act on nodes labelled node-role.kubernetes.io/control-plane.",
    default: false,
    parse: boolean,
  } satisfies Setting<boolean>,
  leaseCheck: {
    name: "leaseCheck",
    description:
      "Act only once the node's Lease has stayed unchanged for a full renewal interval watched by the reconciler (refuses forged packets about live nodes; costs that interval plus leaseMarginSeconds, ~15 s).",
    default: true,
    parse: boolean,
  } satisfies Setting<boolean>,
  leaseMarginSeconds: {
    name: "leaseMarginSeconds",
    description:
      "Added to the Lease's renewal interval (a quarter of its leaseDurationSeconds: 10 s by default) before an unchanged Lease counts as dead: covers the kubelet's jitter and a slow API server.",
    default: 5,
    parse: integer(1, 600),
  } satisfies Setting<number>,
  probe: {
    name: "probe",
    description:
      "With the lease check: probe every node's kubelet port (a TCP connect; a refusal counts as an answer) so a panic is corroborated in about probeWindowMs when the node answered before and is silent now while other nodes answer, and a forged panic about a node that answers is refused at once. Nodes without an answer recently wait out the Lease as without the probe.",
    default: true,
    parse: boolean,
  } satisfies Setting<boolean>,
  probeIntervalSeconds: {
    name: "probeIntervalSeconds",
    description:
      "Each node's kubelet port is probed once per interval (spread over it); an answer counts for two intervals. Each probe may leave a TLS handshake line in the kubelet's log.",
    default: 15,
    parse: integer(1, 3600),
  } satisfies Setting<number>,
  probeTimeoutMs: {
    name: "probeTimeoutMs",
    description: "A periodic probe not answered within this time counts as silent.",
    default: 1000,
    parse: integer(10, 30_000),
  } satisfies Setting<number>,
  probeWindowMs: {
    name: "probeWindowMs",
    description:
      "After a panic: how long the node must give no answer at all to probeAttempts connects (and its control nodes answer) for the panic to be corroborated. Raise it where the round trip to nodes can exceed ~50 ms.",
    default: 250,
    parse: integer(10, 30_000),
  } satisfies Setting<number>,
  probeAttempts: {
    name: "probeAttempts",
    description:
      "Connects to the panicked node within probeWindowMs (each its own SYN: one lost packet is not silence).",
    default: 3,
    parse: integer(1, 20),
  } satisfies Setting<number>,
  probeControls: {
    name: "probeControls",
    description:
      "Other nodes (its zone first) probed at the same time that must all answer for silence to count: the reconciler's own network is not at fault. With 0, silence counts alone.",
    default: 2,
    parse: integer(0, 20),
  } satisfies Setting<number>,
  probeConcurrency: {
    name: "probeConcurrency",
    description: "Periodic probes in flight at most (each holds one socket until answered or timed out).",
    default: 32,
    parse: integer(1, 1000),
  } satisfies Setting<number>,
  forgeryThreshold: {
    name: "forgeryThreshold",
    description:
      "NodeAlive refusals about one node within forgeryWindowSeconds after which its further events need approval (forging in progress).",
    default: 3,
    parse: integer(1, 1000),
  } satisfies Setting<number>,
  forgeryWindowSeconds: {
    name: "forgeryWindowSeconds",
    description: "The window in which forgeryThreshold refusals make a node suspect.",
    default: 3600,
    parse: integer(1, 7 * 86_400),
  } satisfies Setting<number>,
  forgeryHoldSeconds: {
    name: "forgeryHoldSeconds",
    description: "How long after its last NodeAlive refusal a suspect node's events need approval.",
    default: 3600,
    parse: integer(1, 7 * 86_400),
  } satisfies Setting<number>,
  stormMaxNodes: {
    name: "stormMaxNodes",
    description: "Storm guard: nodes remediated per window at most.",
    default: 5,
    parse: integer(1, 100_000),
  } satisfies Setting<number>,
  stormMaxPercent: {
    name: "stormMaxPercent",
    description: "Storm guard: percent of all nodes remediated per window at most (never below one node).",
    default: 10,
    parse: integer(1, 100),
  } satisfies Setting<number>,
  stormWindowSeconds: {
    name: "stormWindowSeconds",
    description: "Storm guard: the sliding window.",
    default: 600,
    parse: integer(1, 86_400),
  } satisfies Setting<number>,
  eventTtlSeconds: {
    name: "eventTtlSeconds",
    description: "Finished KernelPanicEvents are deleted this long after they finished.",
    default: 30 * 86_400,
    parse: integer(1, 10 * 365 * 86_400),
  } satisfies Setting<number>,
  refusedEventTtlSeconds: {
    name: "refusedEventTtlSeconds",
    description:
      "Refused KernelPanicEvents (NodeNotFound, NodeAlive, …: most often junk or forged packets) are deleted this long after they finished.",
    default: 6 * 3600,
    parse: integer(1, 10 * 365 * 86_400),
  } satisfies Setting<number>,
  netconsoleSilentAfterSeconds: {
    name: "netconsoleSilentAfterSeconds",
    description:
      "A node whose agent self-test has not been heard for this long is flagged (Event NetconsoleSilent, metric). Keep it above the agent's selfTestIntervalSeconds plus the receiver's coverageIntervalSeconds.",
    default: 900,
    parse: integer(1, 30 * 86_400),
  } satisfies Setting<number>,
  coverageCheckSeconds: {
    name: "coverageCheckSeconds",
    description: "How often nodes are listed to update netconsole coverage metrics and flags.",
    default: 60,
    parse: integer(1, 3600),
  } satisfies Setting<number>,
  qps: {
    name: "qps",
    description:
      "Client-side limit of API requests per second (429 and Retry-After are honoured too, so API Priority and Fairness has the last word); 500 refills a 110-pod node's requests (~240) in half a second.",
    default: 500,
    parse: integer(1, 100_000),
  } satisfies Setting<number>,
  burst: {
    name: "burst",
    description:
      "API requests allowed in a burst above qps: 500 holds two 110-pod nodes' remediations (~240 requests each: status patch and delete per pod, a few for the node and the event) in one burst.",
    default: 500,
    parse: integer(1, 100_000),
  } satisfies Setting<number>,
  concurrency: {
    name: "concurrency",
    description: "KernelPanicEvents reconciled at once.",
    default: 4,
    parse: integer(1, 1000),
  } satisfies Setting<number>,
  podConcurrency: {
    name: "podConcurrency",
    description:
      "Pods of one node handled at once: 110, a full node's pods (the kubelet's default maximum), in one wave.",
    default: 110,
    parse: integer(1, 1000),
  } satisfies Setting<number>,
  colocationWarnReplicas: {
    name: "colocationWarnReplicas",
    description:
      "A KernelPanicColocated Warning goes to each owner (ReplicaSet, StatefulSet…; not DaemonSet or Job) with at least this many pods on the panicked node; 0 turns it off.",
    default: 2,
    parse: integer(0, 100_000),
  } satisfies Setting<number>,
  crashLoopThreshold: {
    name: "crashLoopThreshold",
    description:
      "A node panicking this many times within crashLoopWindowSeconds is quarantined (condition CrashLoop; kept cordoned and tainted instead of deleted); 0 turns it off.",
    default: 3,
    parse: integer(0, 1000),
  } satisfies Setting<number>,
  crashLoopWindowSeconds: {
    name: "crashLoopWindowSeconds",
    description: "The window of crashLoopThreshold.",
    default: 86_400,
    parse: integer(60, 30 * 86_400),
  } satisfies Setting<number>,
  cascadeWindowSeconds: {
    name: "cascadeWindowSeconds",
    description:
      "A workload that was on nodes that panicked within this long of each other is named a cascade suspect (status.suspects, Warning KernelPanicCascade on the workload); 0 turns it off.",
    default: 3600,
    parse: integer(0, 30 * 86_400),
  } satisfies Setting<number>,
  cascadeAction: {
    name: "cascadeAction",
    description:
      "hold: a suspect that came to a third panicked node after the first panic makes that node wait for approval (CascadeSuspected), since remediating would move its pods to the next node; advise: only name it.",
    default: "hold",
    parse: oneOf("hold", "advise"),
  } satisfies Setting<"hold" | "advise">,
  resyncSeconds: {
    name: "resyncSeconds",
    description: "Every KernelPanicEvent is looked at again this often.",
    default: 300,
    parse: integer(10, 86_400),
  } satisfies Setting<number>,
  stallSeconds: {
    name: "stallSeconds",
    description:
      "Liveness (/healthz) fails when the KernelPanicEvent watch has been down, or one reconcile has run, for longer than this.",
    default: 120,
    parse: integer(1, 3600),
  } satisfies Setting<number>,
  leaderElect: {
    name: "leaderElect",
    description: "Elect a leader among replicas through a Lease; only the leader acts.",
    default: true,
    parse: boolean,
  } satisfies Setting<boolean>,
  leaderElectionNamespace: {
    name: "leaderElectionNamespace",
    description: "Namespace of the leader Lease.",
    default: process.env.POD_NAMESPACE ?? "default",
    defaultText: "$POD_NAMESPACE or default",
    parse: text,
  } satisfies Setting<string>,
  leaderElectionId: {
    name: "leaderElectionId",
    description: "Name of the leader Lease.",
    default: "lastgasp-reconciler",
    parse: text,
  } satisfies Setting<string>,
  identity: {
    name: "identity",
    description: "This replica's name in the leader Lease.",
    default: process.env.POD_NAME ?? hostname(),
    defaultText: "$POD_NAME or the host name",
    parse: text,
  } satisfies Setting<string>,
  logLevel: logLevelSetting,
  logFormat: logFormatSetting,
};
