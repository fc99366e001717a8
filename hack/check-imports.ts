// `make lint`'s structure check: prints operator/'s import graph by module and fails on an arrow that runs back
// up the layers, on an import cycle between files, and on a value import of the Kubernetes client outside kube/
// (kube/ is the only code that talks to the API server; others may name its types).
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const SOURCE = "operator";

/**
 * Each module's layer: a module may import only from lower layers (and itself). receiver and reconciler share a
 * layer and so never import each other: the KernelPanicEvent is their only hand-off.
 */
const LAYERS: Readonly<Record<string, number>> = {
  api: 0,
  net: 1,
  "log.ts": 0,
  "version.ts": 0,
  "build-info.ts": 1,
  "clock.ts": 0,
  "concurrency.ts": 1,
  "bounded.ts": 0,
  "http.ts": 0,
  netconsole: 1,
  lastwords: 1,
  panics: 2,
  kube: 2,
  config: 2,
  sender: 2,
  agent: 3,
  receiver: 3,
  reconciler: 3,
  commands: 4,
  "commands.ts": 5,
  "main.ts": 6,
};

/**
 * Rooms inside a module, layered the same way: a file may import a file of another room of its module only from a
 * lower room. A room is a folder (`reconciler/fleet`) or a file at the module's top (`reconciler/reconcile.ts`).
 * In receiver/, thread/ (what runs in a receive thread) and main/ (the main thread) share a layer and so never
 * import each other: the messages of ingest-messages.ts are their only hand-off.
 */
const ROOMS: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  receiver: {
    "metrics.ts": 0,
    "ingest-messages.ts": 1,
    thread: 2,
    main: 2,
  },
  panics: {
    "continuity.ts": 0,
    "guilty-frame.ts": 0,
    "report-frames.ts": 1,
    "signature.ts": 2,
    "event-fields.ts": 3,
    detector: 3,
    "scan.ts": 4,
  },
  reconciler: {
    status: 0,
    "metrics.ts": 1,
    fleet: 2,
    remediation: 3,
    corroboration: 4,
    "reconcile.ts": 5,
    loop: 6,
  },
};

const KUBE_CLIENT = "@kubernetes/client-node";

export interface Import {
  readonly from: string;
  readonly to: string;
  readonly typeOnly: boolean;
}

/** Every import and re-export of a file: specifier and whether it is `import type` (erased at run time). */
export function importsOf(source: string): { specifier: string; typeOnly: boolean }[] {
  const found: { specifier: string; typeOnly: boolean }[] = [];
  const statement = /^\s*(import|export)\s+(type\s+)?[^;]*?\bfrom\s+"([^"]+)"/gms;
  for (const m of source.matchAll(statement)) found.push({ specifier: m[3]!, typeOnly: m[2] !== undefined });
  for (const m of source.matchAll(/^\s*import\s+"([^"]+)"/gm)) found.push({ specifier: m[1]!, typeOnly: false });
  for (const m of source.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g)) found.push({ specifier: m[1]!, typeOnly: false });
  return found;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** `operator/receiver/thread/udp.ts` → `receiver`; `operator/main.ts` → `main.ts`. */
export function moduleOf(file: string): string {
  return relative(SOURCE, file).split("/")[0]!;
}

/** `operator/reconciler/loop/queue.ts` → `reconciler/loop`; `operator/reconciler/reconcile.ts` → `reconciler/reconcile.ts`. */
export function roomOf(file: string): string | undefined {
  const [module, room] = relative(SOURCE, file).split("/");
  return ROOMS[module!] === undefined || room === undefined ? undefined : `${module}/${room}`;
}

export function check(): { graph: Map<string, Map<string, number>>; problems: string[] } {
  const files = sourceFiles(SOURCE);
  const edges: Import[] = [];
  const problems: string[] = [];
  for (const file of files) {
    for (const { specifier, typeOnly } of importsOf(readFileSync(join(root, file), "utf8"))) {
      if (specifier === KUBE_CLIENT && !typeOnly && moduleOf(file) !== "kube")
        problems.push(`${file}: imports ${KUBE_CLIENT} for values; only kube/ may (use \`import type\` elsewhere)`);
      if (!specifier.startsWith(".")) continue;
      edges.push({ from: file, to: normalize(join(dirname(file), specifier)), typeOnly });
    }
  }
  const graph = new Map<string, Map<string, number>>();
  for (const edge of edges) {
    const arrow = arrowOf(edge);
    if (arrow === undefined) continue;
    const targets = graph.get(arrow.from) ?? new Map<string, number>();
    targets.set(arrow.to, (targets.get(arrow.to) ?? 0) + 1);
    graph.set(arrow.from, targets);
    problems.push(...arrow.problems);
  }
  problems.push(...cycles(files, edges));
  return { graph, problems };
}

/** An import as an arrow of the graph (module to module, or room to room inside a module), with what is wrong. */
function arrowOf(edge: Import): { from: string; to: string; problems: string[] } | undefined {
  const [from, to] = [moduleOf(edge.from), moduleOf(edge.to)];
  if (from !== to) return { from, to, problems: layerProblem(edge, from, to) };
  const [fromRoom, toRoom] = [roomOf(edge.from), roomOf(edge.to)];
  if (fromRoom === toRoom || fromRoom === undefined || toRoom === undefined) return undefined;
  return { from: fromRoom, to: toRoom, problems: roomProblem(edge, from, fromRoom, toRoom) };
}

function layerProblem(edge: Import, from: string, to: string): string[] {
  const [fromLayer, toLayer] = [LAYERS[from], LAYERS[to]];
  if (fromLayer === undefined) return [`${edge.from}: module ${from} has no layer in hack/check-imports.ts`];
  if (toLayer === undefined) return [`${edge.to}: module ${to} has no layer in hack/check-imports.ts`];
  if (toLayer < fromLayer) return [];
  return [`${edge.from} → ${edge.to}: ${from} (layer ${fromLayer}) may not import ${to} (layer ${toLayer})`];
}

function roomProblem(edge: Import, module: string, from: string, to: string): string[] {
  const rooms = ROOMS[module]!;
  const [fromLayer, toLayer] = [rooms[from.slice(module.length + 1)], rooms[to.slice(module.length + 1)]];
  if (fromLayer === undefined) return [`${edge.from}: room ${from} has no layer in hack/check-imports.ts`];
  if (toLayer === undefined) return [`${edge.to}: room ${to} has no layer in hack/check-imports.ts`];
  if (toLayer < fromLayer) return [];
  return [`${edge.from} → ${edge.to}: ${from} (room layer ${fromLayer}) may not import ${to} (room layer ${toLayer})`];
}

/** File-level cycles, type imports included (a type cycle still ties two modules into one). */
function cycles(files: readonly string[], edges: readonly Import[]): string[] {
  const next = new Map<string, string[]>(files.map((f) => [f, []]));
  for (const e of edges) next.get(e.from)?.push(e.to);
  const state = new Map<string, "open" | "done">();
  const found: string[] = [];
  const visit = (file: string, path: string[]): void => {
    if (state.get(file) === "done") return;
    if (state.get(file) === "open") {
      found.push(`import cycle: ${[...path.slice(path.indexOf(file)), file].join(" → ")}`);
      return;
    }
    state.set(file, "open");
    for (const to of next.get(file) ?? []) visit(to, [...path, file]);
    state.set(file, "done");
  };
  for (const file of files) visit(file, []);
  return found;
}

if (import.meta.main) {
  const { graph, problems } = check();
  const byLayer = [...graph.keys()].sort((a, b) => (LAYERS[b] ?? 0) - (LAYERS[a] ?? 0) || a.localeCompare(b));
  process.stdout.write("operator/ import graph (module → modules it imports, with import counts):\n");
  for (const from of byLayer) {
    const targets = [...graph.get(from)!.entries()].map(([to, n]) => `${to} (${n})`).join(", ");
    process.stdout.write(`  ${from.padEnd(14)} → ${targets}\n`);
  }
  for (const problem of problems) process.stderr.write(`check-imports: ${problem}\n`);
  process.exitCode = problems.length === 0 ? 0 : 1;
}
