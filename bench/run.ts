// `npm run bench` / `make bench`: runs the scenarios against real control planes, prints a table and writes
// bench/results/latest.json. See docs/benchmarks.md.
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { compareWithStock } from "./lib/compare.ts";
import { fileURLToPath } from "node:url";
import { table, writeResults, type ScenarioRecord } from "./lib/report.ts";
import type { Row, Scenario, ScenarioContext } from "./lib/scenario.ts";
import { s1 } from "./scenarios/s1-detection.ts";
import { s2 } from "./scenarios/s2-remediation.ts";
import { s3 } from "./scenarios/s3-storm.ts";
import { s4 } from "./scenarios/s4-ingest.ts";
import { s5 } from "./scenarios/s5-memory.ts";
import { s8 } from "./scenarios/s8-image.ts";
import { s6 } from "./scenarios/s6-stock.ts";
import { s7 } from "./scenarios/s7-real-kernel.ts";

const scenarios: readonly Scenario[] = [s1, s2, s3, s4, s5, s6, s7, s8];

const usage = `Usage: npm run bench -- [--quick] [--only S1,S4] [--out FILE] [--netconsd PATH]

  --quick   smaller sizes; every scenario together in under two minutes (plus about one for S7's guests)
  --only    run only these scenarios (comma-separated ids: ${scenarios.map((s) => s.id).join(", ")})
  --out     where the JSON figures go (default bench/results/latest.json; merged with what is there)
  --netconsd  Meta's netconsd binary: S4 runs it beside lastgasp on the same load (docs/benchmarks.md)`;

interface Outcome {
  readonly scenario: Scenario;
  readonly rows: readonly Row[];
  readonly record: ScenarioRecord;
}

async function runOne(scenario: Scenario, ctx: ScenarioContext): Promise<Outcome> {
  const started = Date.now();
  const base = { title: scenario.title, mode: ctx.quick ? ("quick" as const) : ("full" as const) };
  const finish = () => ({
    finishedAt: new Date().toISOString(),
    durationSeconds: Math.round((Date.now() - started) / 1000),
  });
  try {
    const result = await scenario.run(ctx);
    ctx.log(`${scenario.id} done in ${finish().durationSeconds} s`);
    return { scenario, rows: result.rows, record: { ...base, ...finish(), figures: result.figures } };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    ctx.log(`${scenario.id} failed: ${message}`);
    return { scenario, rows: [{ figure: "failed", value: message }], record: { ...base, ...finish(), error: message } };
  }
}

/**
 * Scenarios run one after another, except S6 (stock Kubernetes), which mostly waits for timeouts measured in
 * minutes: it starts first and runs beside the others on its own, nearly idle, control plane.
 */
async function runAll(selected: readonly Scenario[], ctx: ScenarioContext): Promise<Outcome[]> {
  const background = selected.filter((s) => s.id === "S6" && selected.length > 1);
  const pending = background.map((s) => runOne(s, ctx));
  const outcomes: Outcome[] = [];
  for (const s of selected.filter((x) => !background.includes(x))) outcomes.push(await runOne(s, ctx));
  outcomes.push(...(await Promise.all(pending)));
  return outcomes.sort((a, b) => selected.indexOf(a.scenario) - selected.indexOf(b.scenario));
}

/** Adds S2 ÷ S6 to S6's rows and figures, from this run or, for the one not run now, the last saved figures. */
function withComparison(outcomes: Outcome[], out: string): Outcome[] {
  const saved = existsSync(out) ? (JSON.parse(readFileSync(out, "utf8")) as Record<string, ScenarioRecord>) : {};
  const figures = (id: string) => outcomes.find((o) => o.scenario.id === id)?.record.figures ?? saved[id]?.figures;
  const comparison = compareWithStock(figures("S2"), figures("S6"));
  return outcomes.map((o) =>
    o.scenario.id !== "S6" || o.record.figures === undefined
      ? o
      : {
          ...o,
          rows: [...o.rows, ...comparison.rows],
          record: { ...o.record, figures: { ...o.record.figures, ...comparison.figures } },
        },
  );
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      out: { type: "string", default: fileURLToPath(new URL("results/latest.json", import.meta.url)) },
      help: { type: "boolean", default: false },
      netconsd: { type: "string" },
    },
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const wanted = values.only
    ?.toUpperCase()
    .split(",")
    .map((s) => s.trim());
  const unknown = wanted?.filter((id) => !scenarios.some((s) => s.id === id)) ?? [];
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(", ")}\n\n${usage}`);
  const selected = scenarios.filter((s) => wanted === undefined || wanted.includes(s.id));
  const started = Date.now();
  const log = (message: string) => {
    console.error(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${message}`);
  };
  const outcomes = withComparison(
    await runAll(selected, {
      quick: values.quick,
      log,
      ...(values.netconsd === undefined ? {} : { netconsd: values.netconsd }),
    }),
    values.out,
  );
  console.log(table(outcomes.map((o) => ({ id: o.scenario.id, title: o.scenario.title, rows: o.rows }))));
  writeResults(values.out, Object.fromEntries(outcomes.map((o) => [o.scenario.id, o.record])));
  console.log(
    `\n${values.quick ? "Quick run" : "Full run"} in ${Math.round((Date.now() - started) / 1000)} s; figures in ${values.out}`,
  );
  return outcomes.some((o) => o.record.error !== undefined) ? 1 : 0;
}

process.exitCode = await main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  return 2;
});
