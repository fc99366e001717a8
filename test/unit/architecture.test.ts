// docs/architecture.md matches the code: every path it names exists, and its import graph is the one the code
// draws (hack/architecture-graph.ts), with no import running back up the layers (hack/check-imports.ts).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { ARCHITECTURE, mermaid, withGraph } from "../../hack/architecture-graph.ts";
import { check } from "../../hack/check-imports.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const doc = readFileSync(ARCHITECTURE, "utf8");
const tracked = execFileSync("git", ["ls-files"], { cwd: root, encoding: "utf8" }).split("\n");
const names = new Set(tracked.flatMap((f) => [basename(f), ...dirsOf(f)]));

/** `a/b/c.ts` → `b/`, `a/` (each folder's own name, with the slash). */
function dirsOf(file: string): string[] {
  return file
    .split("/")
    .slice(0, -1)
    .map((d) => `${d}/`);
}

/** A path in the doc: as given from the repository's root, from operator/, or from a component's folder. */
function exists(path: string): boolean {
  if (!path.includes("/") || (path.endsWith("/") && path.indexOf("/") === path.length - 1)) return names.has(path);
  const bases = ["", "operator", "operator/receiver", "operator/reconciler"];
  return bases.some((base) => existsSync(join(root, base, path)));
}

/** Every file or folder name the doc mentions: in backticks, and in its pipeline drawing. */
function mentionedPaths(text: string): string[] {
  const graph = /<!-- import-graph:begin[\s\S]*?<!-- import-graph:end -->/;
  const withoutGraph = text.replace(graph, "");
  const pathLike = /^[\w.-]+(\/[\w.-]+)*(\.(ts|md|json|yaml|sh)|\/)$/;
  const ticked = [...withoutGraph.matchAll(/`([^`\s]+)`/g)].map((m) => m[1]!.replace(/'s$/, ""));
  const drawn = [...withoutGraph.matchAll(/[\w./-]+\.ts|[\w-]+\/(?=[\s),])/g)].map((m) => m[0]);
  return [...new Set([...ticked, ...drawn])].filter((p) => pathLike.test(p));
}

describe("docs/architecture.md", () => {
  it("names only paths that exist", () => {
    const paths = mentionedPaths(doc);
    assert.ok(paths.length > 50, `found ${paths.length} paths`);
    const missing = paths.filter((p) => !exists(p));
    assert.deepEqual(missing, [], "paths the doc names that are not in the repository");
  });

  it("draws the import graph the code has", () => {
    const drawn = withGraph(doc, mermaid(check().graph));
    assert.ok(drawn === doc, "docs/architecture.md's graph is stale: run node hack/architecture-graph.ts --write");
  });

  it("the code's imports keep to the layers and rooms", () => {
    assert.deepEqual(check().problems, []);
  });

  it("no two files under operator/ share a name, but the pairs its Names section gives a reason for", () => {
    const byName = new Map<string, string[]>();
    for (const file of tracked.filter((f) => f.startsWith("operator/") && f.endsWith(".ts")))
      byName.set(basename(file), [...(byName.get(basename(file)) ?? []), file]);
    const shared = [...byName].filter(([, files]) => files.length > 1);
    const reasoned = (files: string[]) =>
      files.every((f) => /^operator\/(commands|config|receiver|reconciler|sender|panics)\//.test(f)) &&
      files.some(
        (f) => f.startsWith("operator/commands/") || f.endsWith("/metrics.ts") || f.startsWith("operator/config/"),
      );
    assert.deepEqual(
      shared.filter(([, files]) => !reasoned(files)).map(([name]) => name),
      [],
      "files that share a name without a reason",
    );
  });

  it("a path that does not exist is caught", () => {
    assert.deepEqual(
      mentionedPaths("`reconciler/probes.ts` and `receiver/udp.ts`").filter((p) => !exists(p)),
      ["reconciler/probes.ts", "receiver/udp.ts"],
    );
  });
});
