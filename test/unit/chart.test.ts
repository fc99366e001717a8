// The Helm chart and the operator must not drift apart: the same CRD, a schema generated from the operator's
// settings, values mapped one-to-one to settings, and every value documented by a comment that starts with its name.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { isMap, isScalar, parseDocument, type YAMLMap } from "yaml";
import { agentSettings } from "../../operator/config/agent.ts";
import { reconcilerSettings } from "../../operator/config/reconciler.ts";
import { receiverSettings } from "../../operator/config/receiver.ts";
import { schema, schemaFile } from "../../hack/chart-schema.ts";
import { CHART_README, VALUES, rows, table, withTable } from "../../hack/values-table.ts";

const chart = (path: string) => new URL(`../../charts/lastgasp/${path}`, import.meta.url);
const values = parseDocument(readFileSync(chart("values.yaml"), "utf8"));

describe("charts/lastgasp", () => {
  it("carries the very CRD of crds/ (make chart-sync)", () => {
    const file = "lastgasp.dev_kernelpanicevents.yaml";
    assert.equal(
      readFileSync(chart(`crds/${file}`), "utf8"),
      readFileSync(new URL(`../../crds/${file}`, import.meta.url), "utf8"),
    );
  });

  it("has a values.schema.json generated from the current settings (make chart-sync)", () => {
    assert.deepEqual(JSON.parse(readFileSync(schemaFile, "utf8")), JSON.parse(JSON.stringify(schema)));
  });

  it("maps receiver.config, reconciler.config and agent.config one-to-one to the operator's settings", () => {
    const keys = (path: string[]) =>
      (values.getIn(path) as YAMLMap).items.map((p) => String((p.key as { value: unknown }).value)).sort();
    const names = (settings: Record<string, { name: string }>) =>
      Object.values(settings)
        .map((s) => s.name)
        .filter((n) => n !== "kubeconfig")
        .sort();
    assert.deepEqual(keys(["receiver", "config"]), names(receiverSettings));
    assert.deepEqual(keys(["reconciler", "config"]), names(reconcilerSettings));
    assert.deepEqual(keys(["agent", "config"]), names(agentSettings));
  });

  it("documents every value with a comment that starts with its name", () => {
    const undocumented: string[] = [];
    const walk = (map: YAMLMap, path: string[]) => {
      for (const [index, pair] of map.items.entries()) {
        const key = isScalar(pair.key) ? String(pair.key.value) : "";
        const name = [...path, key].join(".");
        // The YAML parser attaches the comment above a map's first key to the map itself.
        const comment =
          (pair.key as { commentBefore?: string }).commentBefore ?? (index === 0 ? (map.commentBefore ?? "") : "");
        if (!comment.split("\n").some((line) => line.trim().startsWith(`${name} --`))) undocumented.push(name);
        // Values under resources, placement, volume and config objects are free-form or documented by the operator.
        if (isMap(pair.value) && !["resources", "annotations", "nodeSelector", "affinity", "spoolVolume"].includes(key))
          walk(pair.value, [...path, key]);
      }
    };
    walk(values.contents as YAMLMap, []);
    assert.deepEqual(undocumented, []);
  });

  it("lists every value in the chart's README, with its default and description, as values.yaml says", async () => {
    const yaml = readFileSync(VALUES, "utf8");
    const listed = rows(yaml);
    assert.ok(listed.length > 150, `${listed.length} values`);
    assert.deepEqual(
      listed.filter((r) => r.description === "").map((r) => r.key),
      [],
      "every value has a description",
    );
    const readme = readFileSync(CHART_README, "utf8");
    assert.ok((await withTable(readme, table(yaml))) === readme, "stale: run node hack/values-table.ts --write");
    const drifted = yaml.replace("  replicas: 2\n", "  replicas: 3\n");
    assert.ok((await withTable(readme, table(drifted))) !== readme, "a changed default shows");
  });
});
