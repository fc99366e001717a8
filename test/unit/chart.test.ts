// The Helm chart and the operator must not drift apart: the same CRD, a schema generated from the operator's
// settings, values mapped one-to-one to settings, and every value documented by a comment that starts with its name.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parse, parseDocument, type YAMLMap } from "yaml";
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
    // The values table's own walk (free-form objects, such as resources and annotations, are not walked into).
    const undocumented = rows(readFileSync(VALUES, "utf8")).filter((r) => r.description === "");
    assert.deepEqual(
      undocumented.map((r) => r.key),
      [],
    );
  });

  it("lists every value in the chart's README, with its default and description, as values.yaml says", async () => {
    const yaml = readFileSync(VALUES, "utf8");
    const listed = rows(yaml);
    assert.ok(listed.length > 150, `${listed.length} values`);
    const readme = readFileSync(CHART_README, "utf8");
    assert.ok((await withTable(readme, table(yaml))) === readme, "stale: run node hack/values-table.ts --write");
    const drifted = yaml.replace("  replicas: 2\n", "  replicas: 3\n");
    assert.ok((await withTable(readme, table(drifted))) !== readme, "a changed default shows");
  });

  it("carries Artifact Hub's metadata that agrees with the chart: its image, its CRD, an example the CRD takes", () => {
    const meta = parse(readFileSync(chart("Chart.yaml"), "utf8")) as {
      appVersion: string;
      annotations: Record<string, string>;
    };
    const list = (key: string) => parse(meta.annotations[`artifacthub.io/${key}`] ?? "[]") as Record<string, unknown>[];
    const image = values.toJS() as { image: { repository: string } };
    assert.deepEqual(list("images"), [{ name: "lastgasp", image: `${image.image.repository}:${meta.appVersion}` }]);
    const crd = parse(readFileSync(chart("crds/lastgasp.dev_kernelpanicevents.yaml"), "utf8")) as {
      metadata: { name: string };
      spec: {
        group: string;
        names: { kind: string };
        versions: { name: string; schema: { openAPIV3Schema: { properties: { spec: { required: string[] } } } } }[];
      };
    };
    const [version] = crd.spec.versions;
    assert.deepEqual(
      list("crds").map(({ kind, version: v, name }) => ({ kind, version: v, name })),
      [{ kind: crd.spec.names.kind, version: version!.name, name: crd.metadata.name }],
    );
    const [example] = list("crdsExamples") as { apiVersion: string; kind: string; spec: Record<string, unknown> }[];
    assert.equal(example!.apiVersion, `${crd.spec.group}/${version!.name}`);
    assert.equal(example!.kind, crd.spec.names.kind);
    for (const field of version!.schema.openAPIV3Schema.properties.spec.required)
      assert.ok(field in example!.spec, `the example has spec.${field}`);
    const documented = parse(
      readFileSync(new URL("../../examples/kernelpanicevent.yaml", import.meta.url), "utf8"),
    ) as {
      spec: unknown;
    };
    assert.deepEqual(example!.spec, documented.spec, "the same event as examples/kernelpanicevent.yaml");
    for (const change of list("changes"))
      assert.ok(["added", "changed", "fixed", "removed", "deprecated", "security"].includes(String(change.kind)));
  });
});
