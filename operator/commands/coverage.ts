// `lastgasp coverage`: every Node with the last words it keeps, as the cluster knows them: netconsole (the
// receiver's lastgasp.dev/netconsole-last-seen stamp, judged as the reconciler judges it), pstore and kdump (what
// the node's agent wrote in lastgasp.dev/last-words; "-" where no agent said).
import type { V1Node } from "@kubernetes/client-node";
import { ANNOTATIONS } from "../api/keys.ts";
import { parseLastWords } from "../api/last-words.ts";
import { systemClock } from "../clock.ts";
import { kubeconfigSetting } from "../config/common.ts";
import { reconcilerSettings } from "../config/reconciler.ts";
import { describeSettings, oneOf, resolveSettings, type Setting } from "../config/settings.ts";
import { coverageOf } from "../reconciler/fleet/coverage-monitor.ts";
import { cliReader } from "./cli-reader.ts";
import type { Command } from "./command.ts";
import { reportStartFailure } from "./run.ts";

const coverageSettings = {
  netconsoleSilentAfterSeconds: reconcilerSettings.netconsoleSilentAfterSeconds,
  format: {
    name: "format",
    description: "table (aligned columns) or json (one object per node per line).",
    default: "table",
    parse: oneOf("table", "json"),
  } satisfies Setting<"table" | "json">,
  kubeconfig: kubeconfigSetting,
};

export const coverageCommand: Command = {
  usage: `Usage: lastgasp coverage [options]\n\nPrints each Node with the last words it keeps: netconsole (covered, silent, unheard, unavailable), pstore (its backend and record size, or none) and kdump (loaded or none); "-" where the node's agent has not said.\n\n${describeSettings(coverageSettings)}`,
  run: async (args) => {
    try {
      const { values, positionals } = resolveSettings(coverageSettings, args, process.env);
      if (positionals.length > 0) throw new Error("expected no arguments");
      const nodes = await cliReader(values.kubeconfig).listNodes();
      const rows = nodes.map((n) => nodeRow(n, systemClock.nowMs(), values.netconsoleSilentAfterSeconds * 1000));
      rows.sort((a, b) => a.node.localeCompare(b.node));
      process.stdout.write(values.format === "json" ? rows.map((r) => `${JSON.stringify(r)}\n`).join("") : table(rows));
      return 0;
    } catch (err) {
      return reportStartFailure("coverage", err);
    }
  },
};

export interface CoverageRow {
  readonly node: string;
  readonly netconsole: string;
  readonly pstore: string;
  readonly kdump: string;
}

export function nodeRow(node: V1Node, nowMs: number, silentAfterMs: number): CoverageRow {
  const kept = parseLastWords(node.metadata?.annotations?.[ANNOTATIONS.lastWords]);
  const pstore = kept?.pstore;
  return {
    node: node.metadata?.name ?? "",
    netconsole: coverageOf(node, nowMs, silentAfterMs).state,
    pstore:
      kept === undefined
        ? "-"
        : pstore === undefined
          ? "none"
          : `${pstore.backend}${pstore.recordBytes === undefined ? "" : ` (${pstore.recordBytes} B records)`}`,
    kdump: kept === undefined ? "-" : kept.kdump ? "loaded" : "none",
  };
}

function table(rows: readonly CoverageRow[]): string {
  const header: CoverageRow = { node: "NODE", netconsole: "NETCONSOLE", pstore: "PSTORE", kdump: "KDUMP" };
  const all = [header, ...rows];
  const width = (key: keyof CoverageRow) => Math.max(...all.map((r) => r[key].length));
  const widths = { node: width("node"), netconsole: width("netconsole"), pstore: width("pstore") };
  return all
    .map(
      (r) =>
        `${r.node.padEnd(widths.node)}   ${r.netconsole.padEnd(widths.netconsole)}   ${r.pstore.padEnd(widths.pstore)}   ${r.kdump}\n`,
    )
    .join("");
}
