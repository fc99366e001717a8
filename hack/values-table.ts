// The chart's values table, generated from values.yaml (each value's comment starts with its name: test/unit/
// chart.test.ts) into charts/lastgasp/README.md, between two markers.
//   node hack/values-table.ts --write   rewrites the table
//   node hack/values-table.ts --check   fails when the table is not what values.yaml says (`make lint`)
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { format, resolveConfig } from "prettier";
import { isMap, isScalar, isSeq, parseDocument, type YAMLMap } from "yaml";

export const VALUES = fileURLToPath(new URL("../charts/lastgasp/values.yaml", import.meta.url));
export const CHART_README = fileURLToPath(new URL("../charts/lastgasp/README.md", import.meta.url));
const BEGIN = "<!-- values-table:begin (hack/values-table.ts --write) -->";
const END = "<!-- values-table:end -->";
/** Objects whose keys are the user's own (free-form) or documented by the operator's settings elsewhere. */
const FREE_FORM = new Set(["resources", "annotations", "nodeSelector", "affinity", "spoolVolume", "labels"]);

interface Row {
  readonly key: string;
  readonly value: string;
  readonly description: string;
}

/** The comment block's lines from the one that starts with `name --` to its end, as one sentence run. */
function description(comment: string, name: string): string {
  const lines = comment.split("\n").map((l) => l.trim());
  const start = lines.findIndex((l) => l.startsWith(`${name} --`));
  if (start === -1) return "";
  const own = [lines[start]!.slice(name.length + 3).trim()];
  for (const line of lines.slice(start + 1)) {
    if (/^[\w.]+ --/.test(line)) break;
    own.push(line);
  }
  return own.join(" ").trim();
}

function shown(value: unknown): string {
  const json = JSON.stringify(value);
  return `\`${json.length > 60 ? `${json.slice(0, 57)}…` : json}\``;
}

/** Every documented value, depth first, as values.yaml orders them. */
export function rows(valuesYaml: string): Row[] {
  const doc = parseDocument(valuesYaml);
  const found: Row[] = [];
  const walk = (map: YAMLMap, path: string[]) => {
    for (const [index, pair] of map.items.entries()) {
      const key = isScalar(pair.key) ? String(pair.key.value) : "";
      const name = [...path, key].join(".");
      const comment =
        (pair.key as { commentBefore?: string }).commentBefore ?? (index === 0 ? (map.commentBefore ?? "") : "");
      const nested = isMap(pair.value) && pair.value.items.length > 0 && !FREE_FORM.has(key);
      const value: unknown =
        isMap(pair.value) || isSeq(pair.value)
          ? pair.value.toJSON()
          : (pair.value as { value?: unknown } | null)?.value;
      found.push({ key: name, value: nested ? "" : shown(value ?? null), description: description(comment, name) });
      if (nested) walk(pair.value as YAMLMap, [...path, key]);
    }
  };
  walk(doc.contents as YAMLMap, []);
  return found;
}

export function table(valuesYaml: string): string {
  const escape = (text: string) => text.replaceAll("|", "\\|").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
  const lines = ["| Key | Default | Description |", "| --- | --- | --- |"];
  for (const row of rows(valuesYaml))
    lines.push(`| \`${row.key}\` | ${escape(row.value)} | ${escape(row.description)} |`);
  return lines.join("\n");
}

/** The README with its table replaced by `block`, formatted as Prettier formats it (so `make lint` agrees). */
export async function withTable(readme: string, block: string): Promise<string> {
  const begin = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (begin === -1 || end < begin) throw new Error(`${CHART_README}: no ${BEGIN} … ${END} block`);
  const text = `${readme.slice(0, begin + BEGIN.length)}\n\n${block}\n\n${readme.slice(end)}`;
  return format(text, { ...(await resolveConfig(CHART_README)), filepath: CHART_README });
}

if (import.meta.main) {
  const readme = readFileSync(CHART_README, "utf8");
  const drawn = await withTable(readme, table(readFileSync(VALUES, "utf8")));
  if (process.argv.includes("--write")) writeFileSync(CHART_README, drawn);
  else if (drawn !== readme) {
    process.stderr.write(
      "charts/lastgasp/README.md's values table is not values.yaml's: run node hack/values-table.ts --write\n",
    );
    process.exitCode = 1;
  }
}
