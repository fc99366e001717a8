// Runs inside a real-kernel guest (Node from the host's repository over 9p): reads the targets already there (what
// the agent configured), then applies the rule probes to the real configfs through the agent's own
// NetconsoleConfigfs, one operation at a time, and writes each outcome (done, or the errno the kernel refused it
// with) as JSON for the host to compare with the model.
//
//   node test/kernel/guest/configfs-probe.ts PROBES.json RESULTS.json
import { readFileSync, writeFileSync } from "node:fs";
import { NetconsoleConfigfs } from "../../../operator/agent/configfs.ts";
import type { ObservedTarget } from "../../../operator/agent/target.ts";
import { runProbes, type ProbeReport, type RuleProbe } from "../../harness/configfs-rules.ts";

const [probesFile, resultsFile] = process.argv.slice(2);
if (probesFile === undefined || resultsFile === undefined) throw new Error("usage: configfs-probe PROBES RESULTS");
const probes = JSON.parse(readFileSync(probesFile, "utf8")) as RuleProbe[];
const configfs = new NetconsoleConfigfs("/sys/kernel/config");
await configfs.ensureAvailable(false);
const targets: Record<string, ObservedTarget> = {};
for (const name of await configfs.targets()) targets[name] = await configfs.read(name);

// NetconsoleConfigfs reports a refused operation with the errno as its cause.
const results = await runProbes(probes, configfs, (err) => {
  const cause = (err as { cause?: NodeJS.ErrnoException }).cause;
  return cause?.code ?? (err as Error).message;
});
const report: ProbeReport = { targets, rules: results };
writeFileSync(resultsFile, `${JSON.stringify(report, null, 1)}\n`);
