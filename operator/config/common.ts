// Settings every long-running component has, each under its own Helm section.
import { splitHostPort } from "../http.ts";
import { list, oneOf, text, type Setting } from "./settings.ts";

/** A comma-separated list of host:port, at least one, each checked. */
export function hostPorts(raw: string): string[] {
  const parsed = list(raw);
  if (parsed.length === 0) throw new Error("expected at least one host:port");
  for (const address of parsed) splitHostPort(address);
  return parsed;
}

export const logLevels = ["error", "warn", "info", "debug"] as const;
export const logFormats = ["json", "ecs"] as const;

export function httpAddressSetting(defaultAddress: string): Setting<string> {
  return {
    name: "httpAddress",
    description: "Address of /metrics, /healthz and /readyz.",
    default: defaultAddress,
    parse: (raw) => {
      splitHostPort(raw);
      return raw;
    },
  };
}

export const kubeconfigSetting: Setting<string> = {
  name: "kubeconfig",
  description: "Kubeconfig file; KUBECONFIG or in-cluster credentials when empty.",
  default: "",
  parse: text,
};

export const logLevelSetting: Setting<(typeof logLevels)[number]> = {
  name: "logLevel",
  description: "error, warn, info or debug.",
  default: "info",
  parse: oneOf(...logLevels),
};

export const logFormatSetting: Setting<(typeof logFormats)[number]> = {
  name: "logFormat",
  description:
    "json (one object per line: timestamp, level, message, fields) or ecs (Elastic Common Schema, for Elastic's collectors).",
  default: "json",
  parse: oneOf(...logFormats),
};
