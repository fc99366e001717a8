// Writes charts/lastgasp/values.schema.json from the operator's own settings, so the chart's values and the
// operator's options cannot drift apart (test/unit/chart.test.ts checks the file is up to date).
// Run: make chart-sync
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { agentSettings } from "../operator/config/agent.ts";
import { reconcilerSettings } from "../operator/config/reconciler.ts";
import { receiverSettings } from "../operator/config/receiver.ts";
import type { Setting } from "../operator/config/settings.ts";

const strict = (properties: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  type: "object",
  additionalProperties: false,
  properties,
  ...extra,
});
const str = { type: "string" };
const bool = { type: "boolean" };
const int = { type: "integer", minimum: 0 };
const anyObject = { type: "object" };
const list = (items: unknown) => ({ type: "array", items });

/** JSON Schema of one setting, from its default's type; null always allowed (the operator's default). */
function settingSchema(setting: Setting<unknown>): unknown {
  const d = setting.default;
  const type = Array.isArray(d)
    ? { type: "array", items: str }
    : typeof d === "number"
      ? { type: "integer" }
      : typeof d === "boolean"
        ? bool
        : str;
  return { anyOf: [type, { type: "null" }], description: setting.description };
}

function settingsSchema(settings: Record<string, Setting<unknown>>, omit: string[]): unknown {
  return strict(
    Object.fromEntries(
      Object.values(settings)
        .filter((s) => !omit.includes(s.name))
        .map((s) => [s.name, settingSchema(s)]),
    ),
  );
}

const placement = { nodeSelector: anyObject, tolerations: list(anyObject), affinity: anyObject, resources: anyObject };
/** The pod settings of each component (receiver, reconciler, agent). */
const podSettings = {
  dnsPolicy: { enum: ["", "ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"] },
  priorityClassName: str,
  topologySpreadConstraints: { anyOf: [list(anyObject), { type: "null" }] },
};

/** The chart's alerts (templates/_helpers.tpl's lastgasp.alerts; test/integration/chart-render.test.ts holds the two together). */
export const ALERTS = [
  "LastgaspKernelPanic",
  "LastgaspPacketsDropped",
  "LastgaspNetconsoleSilent",
  "LastgaspNodeWithoutLastWords",
  "LastgaspProbeBaselineLow",
  "LastgaspRemediationRefused",
  "LastgaspCascadeHeld",
  "LastgaspNoLeader",
  "LastgaspReceiverDown",
];

/** Label values are strings (a number or boolean would be refused by the API server as a label). */
const labels = { type: "object", additionalProperties: { type: "string" } };
const serviceAccount = strict({ create: bool, name: str, annotations: labels });
/** What a user adds to a component's pods: command-line options, volumes and their mounts. */
const extras = { extraArgs: list(str), extraVolumes: list(anyObject), extraVolumeMounts: list(anyObject) };

export const schema = {
  $schema: "https://json-schema.org/draft-07/schema#",
  ...strict({
    nameOverride: { type: "string", pattern: "^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$", maxLength: 63 },
    fullnameOverride: { type: "string", pattern: "^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$", maxLength: 63 },
    commonLabels: labels,
    serviceAccount: strict({ receiver: serviceAccount, reconciler: serviceAccount, agent: serviceAccount }),
    rbac: strict({ create: bool, aggregateToView: bool }),
    image: strict({
      repository: str,
      tag: str,
      digest: { type: "string", pattern: "^(sha256:[0-9a-f]{64})?$" },
      pullPolicy: { enum: ["Always", "IfNotPresent", "Never"] },
    }),
    imagePullSecrets: list(anyObject),
    podAnnotations: anyObject,
    podLabels: anyObject,
    extraEnv: list(anyObject),
    podSecurityContext: anyObject,
    securityContext: anyObject,
    combined: bool,
    nodeCidrs: list(str),
    dryRun: bool,
    receiver: strict({
      replicas: int,
      ...extras,
      service: strict({
        enabled: bool,
        loadBalancerIP: str,
        loadBalancerSourceRanges: list(str),
        loadBalancerClass: str,
        ipFamilyPolicy: { enum: ["", "SingleStack", "PreferDualStack", "RequireDualStack"] },
        annotations: anyObject,
      }),
      hostNetwork: bool,
      strategy: anyObject,
      drainSeconds: int,
      spoolVolume: { ...anyObject, minProperties: 1, maxProperties: 1 },
      ...podSettings,
      ...placement,
      config: settingsSchema(receiverSettings, ["kubeconfig"]),
    }),
    reconciler: strict({
      replicas: int,
      ...extras,
      strategy: anyObject,
      ...podSettings,
      ...placement,
      config: settingsSchema(reconcilerSettings, ["kubeconfig"]),
    }),
    agent: strict({
      enabled: bool,
      ...extras,
      removeOnUninstall: bool,
      removeTimeoutSeconds: { type: "integer", minimum: 1 },
      ...podSettings,
      ...placement,
      config: settingsSchema(agentSettings, ["kubeconfig"]),
    }),
    patterns: str,
    podDisruptionBudget: strict({ enabled: bool }),
    metrics: strict({
      monitor: strict({
        enabled: bool,
        kind: { enum: ["ServiceMonitor", "PodMonitor"] },
        namespace: str,
        labels: anyObject,
        interval: str,
        sampleLimit: int,
      }),
      prometheusRule: strict({
        enabled: bool,
        namespace: str,
        labels: anyObject,
        runbookBaseUrl: { type: "string", pattern: "^https?://" },
        // By name: a misspelt alert is refused, not silently ignored.
        alerts: strict(
          Object.fromEntries(
            ALERTS.map((name) => [
              name,
              strict({ enabled: bool, for: { type: "string", pattern: "^([0-9]+(ms|s|m|h|d|w|y))+$" }, severity: str }),
            ]),
          ),
        ),
        additionalRules: list(anyObject),
      }),
      dashboard: strict({ enabled: bool, namespace: str, labels: anyObject }),
    }),
    networkPolicy: strict({ enabled: bool }),
  }),
  // A NetworkPolicy whose rule lists no sources would admit everyone: enabled needs the node networks.
  if: { properties: { networkPolicy: { properties: { enabled: { const: true } } } } },
  then: { properties: { nodeCidrs: { minItems: 1 } } },
};

export const schemaFile = fileURLToPath(new URL("../charts/lastgasp/values.schema.json", import.meta.url));

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(schemaFile, `${JSON.stringify(schema, null, 2)}\n`);
  process.stdout.write(`wrote ${schemaFile}\n`);
}
