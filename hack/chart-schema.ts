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

export const schema = {
  $schema: "https://json-schema.org/draft-07/schema#",
  ...strict({
    image: strict({ repository: str, tag: str, pullPolicy: { enum: ["Always", "IfNotPresent", "Never"] } }),
    imagePullSecrets: list(anyObject),
    combined: bool,
    nodeCidrs: list(str),
    dryRun: bool,
    receiver: strict({
      replicas: int,
      service: strict({ enabled: bool, loadBalancerIP: str, annotations: anyObject }),
      hostNetwork: bool,
      ...placement,
      config: settingsSchema(receiverSettings, ["kubeconfig"]),
    }),
    reconciler: strict({ replicas: int, ...placement, config: settingsSchema(reconcilerSettings, ["kubeconfig"]) }),
    agent: strict({
      enabled: bool,
      removeOnUninstall: bool,
      removeTimeoutSeconds: { type: "integer", minimum: 1 },
      priorityClassName: str,
      ...placement,
      config: settingsSchema(agentSettings, []),
    }),
    patterns: str,
    podDisruptionBudget: strict({ enabled: bool }),
    serviceMonitor: strict({ enabled: bool, interval: str }),
    networkPolicy: strict({ enabled: bool }),
  }),
};

export const schemaFile = fileURLToPath(new URL("../charts/lastgasp/values.schema.json", import.meta.url));

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(schemaFile, `${JSON.stringify(schema, null, 2)}\n`);
  process.stdout.write(`wrote ${schemaFile}\n`);
}
