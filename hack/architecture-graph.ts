// docs/architecture.md's import graph, drawn from the code: the modules of operator/ and the rooms inside
// receiver/ and reconciler/ (hack/check-imports.ts's graph) as a Mermaid flowchart between two markers.
//   node hack/architecture-graph.ts --write   rewrites the block
//   node hack/architecture-graph.ts --check   fails when the block is not what the code draws (`make lint`)
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { check } from "./check-imports.ts";

export const ARCHITECTURE = fileURLToPath(new URL("../docs/architecture.md", import.meta.url));
const BEGIN = "<!-- import-graph:begin (hack/architecture-graph.ts --write) -->";
const END = "<!-- import-graph:end -->";

/** A Mermaid id for a module or room: `receiver/thread` → `receiver_thread`. */
function id(name: string): string {
  return name.replace(/[^A-Za-z0-9]/g, "_");
}

/** The flowchart: a subgraph per module that has rooms, an arrow per importing pair (counts left out). */
export function mermaid(graph: ReadonlyMap<string, ReadonlyMap<string, number>>): string {
  const names = new Set<string>();
  for (const [from, targets] of graph) {
    names.add(from);
    for (const to of targets.keys()) names.add(to);
  }
  const rooms = new Map<string, string[]>();
  for (const name of names) {
    const [module, room] = name.split("/");
    if (room !== undefined) rooms.set(module!, [...(rooms.get(module!) ?? []), name]);
  }
  const lines = ["```mermaid", "flowchart TD"];
  for (const [module, members] of [...rooms].sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`  subgraph ${id(module)}["${module}/"]`);
    for (const member of members.sort()) lines.push(`    ${id(member)}["${member.slice(module.length + 1)}"]`);
    lines.push("  end");
  }
  for (const name of [...names].sort())
    if (!name.includes("/") && !rooms.has(name)) lines.push(`  ${id(name)}["${name}"]`);
  const arrows = [...graph].flatMap(([from, targets]) =>
    [...targets.keys()].map((to) => `  ${id(from)} --> ${id(to)}`),
  );
  lines.push(...arrows.sort(), "```");
  return lines.join("\n");
}

/** docs/architecture.md with its graph block replaced by `block`. */
export function withGraph(doc: string, block: string): string {
  const begin = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (begin === -1 || end < begin) throw new Error(`${ARCHITECTURE}: no ${BEGIN} … ${END} block`);
  return `${doc.slice(0, begin + BEGIN.length)}\n\n${block}\n\n${doc.slice(end)}`; // blank lines: as Prettier keeps them
}

if (import.meta.main) {
  const doc = readFileSync(ARCHITECTURE, "utf8");
  const drawn = withGraph(doc, mermaid(check().graph));
  if (process.argv.includes("--write")) writeFileSync(ARCHITECTURE, drawn);
  else if (drawn !== doc) {
    process.stderr.write(
      "docs/architecture.md's import graph is not the code's: run node hack/architecture-graph.ts --write\n",
    );
    process.exitCode = 1;
  }
}
