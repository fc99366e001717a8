// The examples must stay valid: they parse, and those that configure lastgasp match the chart and the CRD.
import assert from "node:assert/strict";
import { NODE_CONDITION } from "../../operator/api/keys.ts";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { LIMITS } from "../../operator/api/kernelpanicevent.ts";
import { loadPatterns } from "../../operator/panics/detector/patterns.ts";
import { scanLog } from "../../operator/panics/scan.ts";
import { crashSignature } from "../../operator/panics/signature.ts";
import { registeredMetricNames } from "../harness/metric-names.ts";

/** The figures an operator opens the dashboard for: panics heard, what was done about them, and how fast. */
const DASHBOARD_MUST_SHOW = [
  "lastgasp_receiver_panics_detected_total",
  "lastgasp_reconciler_remediations_total",
  "lastgasp_reconciler_detection_to_remediation_seconds_bucket",
  "lastgasp_receiver_drops_total",
  "lastgasp_receiver_pending_writes",
  "lastgasp_reconciler_queue_depth",
  "lastgasp_reconciler_pods_failed_total",
  "lastgasp_reconciler_pods_deleted_total",
  "lastgasp_netconsole_nodes",
  "lastgasp_netconsole_silent_node",
  "lastgasp_build_info",
];

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

  it("the Node Health Check matches the condition lastgasp sets on a kept node", () => {
    const nhc = parse(example("node-healthcheck.yaml")) as {
      kind: string;
      spec: { unhealthyConditions: { type: string; status: string }[] };
    };
    assert.equal(nhc.kind, "NodeHealthCheck");
    assert.ok(nhc.spec.unhealthyConditions.some((c) => c.type === NODE_CONDITION && c.status === "True"));
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

  it("the sample KernelPanicEvent is what lastgasp records from its context: cause, reason, signature and its label", () => {
    const kpe = parse(example("kernelpanicevent.yaml")) as {
      metadata: { labels: Record<string, string> };
      spec: {
        contextLines: string[];
        reason: string;
        cause: string;
        signature: { id: string; title: string; frames: string[] };
      };
    };
    const log = kpe.spec.contextLines.map((line, i) => `[ 8374.${400000 + i}] ${line}`).join("\n");
    const [detection] = scanLog(log, loadPatterns(), {
      contextLines: 20,
      quietMs: 0,
      deadlineMs: 0,
      duplicateWindowMs: 0,
    });
    assert.ok(detection);
    assert.deepEqual([detection.reason, detection.cause], [kpe.spec.reason, kpe.spec.cause]);
    const { id, title, frames } = crashSignature(detection);
    assert.deepEqual(kpe.spec.signature, { id, title, frames });
    assert.equal(kpe.metadata.labels["lastgasp.dev/signature"], id);
  });

  it("the dashboard queries only metrics lastgasp exports, and every panel has a query", async () => {
    const dashboard = JSON.parse(example("grafana-dashboard.json")) as {
      panels: { title: string; targets?: { expr?: string; legendFormat?: string }[] }[];
    };
    assert.ok(dashboard.panels.length >= DASHBOARD_MUST_SHOW.length, "the dashboard has lost its panels");
    for (const panel of dashboard.panels) {
      const exprs = (panel.targets ?? []).map((t) => t.expr ?? "").filter((e) => e.trim() !== "");
      assert.ok(exprs.length > 0, `panel ${JSON.stringify(panel.title)} has no query`);
      // One panel, one query each: "a or b" shows b only where a has no series, which a gauge always has.
      for (const expr of exprs)
        assert.doesNotMatch(expr, /\)\s+or\s+/, `panel ${JSON.stringify(panel.title)}: ${expr}`);
      for (const name of exprs.flatMap((e) => e.match(/lastgasp_\w+(\{[^}]*\})?/g) ?? []))
        assert.match(
          name,
          /namespace=~"\$namespace"/,
          `panel ${JSON.stringify(panel.title)}: ${name} ignores the namespace variable`,
        );
      for (const t of panel.targets ?? [])
        assert.ok(t.legendFormat, `panel ${JSON.stringify(panel.title)} has a query without a legend`);
    }
    const queried = new Set(
      dashboard.panels.flatMap((p) => (p.targets ?? []).flatMap((t) => t.expr?.match(/lastgasp_\w+/g) ?? [])),
    );
    const exported = await registeredMetricNames();
    for (const name of queried) assert.ok(exported.has(name), `${name} is not a metric lastgasp exports`);
    for (const name of DASHBOARD_MUST_SHOW) assert.ok(queried.has(name), `the dashboard no longer shows ${name}`);
  });
});
