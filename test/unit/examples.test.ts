// The examples must stay valid: they parse, and those that configure lastgasp match the chart and the CRD.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { LIMITS } from "../../operator/api/kernelpanicevent.ts";

const example = (name: string) => readFileSync(new URL(`../../examples/${name}`, import.meta.url), "utf8");

describe("examples", () => {
  it("the Job ignores DisruptionTarget failures", () => {
    const job = parse(example("job-pod-failure-policy.yaml")) as {
      spec: { podFailurePolicy: { rules: { action: string; onPodConditions?: { type: string }[] }[] } };
    };
    assert.ok(
      job.spec.podFailurePolicy.rules.some(
        (r) => r.action === "Ignore" && r.onPodConditions?.some((c) => c.type === "DisruptionTarget"),
      ),
    );
  });

  it("the sample KernelPanicEvent fits the CRD's limits and the Argo CD app uses server-side apply", () => {
    const kpe = parse(example("kernelpanicevent.yaml")) as { spec: { contextLines: string[]; reason: string } };
    assert.ok(kpe.spec.contextLines.length <= LIMITS.contextLines && kpe.spec.reason.length <= LIMITS.reason);
    const app = parse(example("argocd-application.yaml")) as {
      spec: { syncPolicy: { syncOptions: string[] }; source: { path: string } };
    };
    assert.ok(app.spec.syncPolicy.syncOptions.includes("ServerSideApply=true"));
    assert.equal(app.spec.source.path, "charts/lastgasp");
  });

  it("the dashboard queries only metrics lastgasp exports", () => {
    const dashboard = JSON.parse(example("grafana-dashboard.json")) as { panels: { targets: { expr: string }[] }[] };
    const names = dashboard.panels.flatMap((p) => p.targets.flatMap((t) => t.expr.match(/lastgasp_\w+/g) ?? []));
    const sources = ["receiver/metrics.ts", "reconciler/metrics.ts"]
      .map((f) => readFileSync(new URL(`../../operator/${f}`, import.meta.url), "utf8"))
      .join("\n");
    for (const name of names) assert.ok(sources.includes(name.replace(/_bucket$/, "")), name);
  });
});
