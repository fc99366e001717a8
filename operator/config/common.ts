// Settings every long-running component has, each under its own Helm section.
import { splitHostPort } from "../http.ts";
import { oneOf, text, type Setting } from "./settings.ts";

export const logLevels = ["error", "warn", "info", "debug"] as const;

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
