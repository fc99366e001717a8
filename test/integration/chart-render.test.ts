// The chart as rendered (helm template, no cluster): every metrics target selects exactly one component's pods
// on that component's own port, in separate and combined mode and with either monitor kind; every workload the
// chart creates carries the pod settings from values; and the PrometheusRule queries only metrics the operator
// registers, passes promtool (and its unit tests of every alert), and is tuned as its values say.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { parseAllDocuments, stringify } from "yaml";
import { ensureBinaries, required } from "../harness/binaries.ts";
import { registeredMetricNames } from "../harness/metric-names.ts";
import { ALERTS } from "../../hack/chart-schema.ts";

const chartDir = fileURLToPath(new URL("../../charts/lastgasp", import.meta.url));
const exec = promisify(execFile);
const HTTP_PORT = { receiver: 8080, reconciler: 8081 } as const;

interface Obj {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec: Record<string, unknown>;
}
interface PodSpec {
  imagePullSecrets?: { name: string }[];
  priorityClassName?: string;
  nodeSelector?: Record<string, string>;
  tolerations?: unknown[];
  securityContext?: Record<string, unknown>;
  topologySpreadConstraints?: unknown[];
  containers: Container[];
  initContainers?: Container[];
}
interface Container {
  name: string;
  env?: { name: string; value?: string }[];
  ports?: { name: string; containerPort: number }[];
  securityContext?: Record<string, unknown>;
}
interface PodTemplate {
  metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
  spec: PodSpec;
}

let helm: string;
let promtool: string;
let work: string;

before(async () => {
  const binaries = await ensureBinaries(["helm", "promtool"]);
  helm = required(binaries, "HELM");
  promtool = required(binaries, "PROMTOOL");
  work = mkdtempSync(join(tmpdir(), "lastgasp-chart-"));
});
after(() => {
  rmSync(work, { recursive: true, force: true });
});

/** The chart rendered with these values (as a values file: nested objects and lists as they are). */
async function render(values: Record<string, unknown>): Promise<Obj[]> {
  const file = join(work, "values.yaml");
  writeFileSync(file, stringify(values));
  const { stdout } = await exec(helm, ["template", "t", chartDir, "-n", "lg", "-f", file], { maxBuffer: 16 << 20 });
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);
}

function podTemplate(o: Obj): PodTemplate | undefined {
  if (o.kind === "Deployment" || o.kind === "DaemonSet" || o.kind === "Job")
    return (o.spec as { template: PodTemplate }).template;
  return undefined;
}

const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

/** The workloads whose pods a monitor scrapes, and the port number it scrapes them on. */
function targetsOf(monitor: Obj, objects: Obj[]): { workload: Obj; port: number | undefined }[] {
  const workloads = objects.filter((o) => podTemplate(o) !== undefined);
  const portOf = (w: Obj, name: string) =>
    podTemplate(w)!
      .spec.containers.flatMap((c) => c.ports ?? [])
      .find((p) => p.name === name)?.containerPort;
  const selector = (monitor.spec.selector as { matchLabels: Record<string, string> }).matchLabels;
  if (monitor.kind === "PodMonitor") {
    const [endpoint] = monitor.spec.podMetricsEndpoints as { port: string }[];
    return workloads
      .filter((w) => matches(selector, podTemplate(w)!.metadata.labels))
      .map((w) => ({ workload: w, port: portOf(w, endpoint!.port) }));
  }
  const [endpoint] = monitor.spec.endpoints as { port: string }[];
  return objects
    .filter((o) => o.kind === "Service" && matches(selector, o.metadata.labels))
    .flatMap((service) => {
      const spec = service.spec as { selector: Record<string, string>; ports: { name: string; targetPort: string }[] };
      const targetPort = spec.ports.find((p) => p.name === endpoint!.port)?.targetPort ?? "";
      return workloads
        .filter((w) => matches(spec.selector, podTemplate(w)!.metadata.labels))
        .map((w) => ({ workload: w, port: portOf(w, targetPort) }));
    });
}

const modes = [
  { combined: false, kind: "ServiceMonitor" },
  { combined: false, kind: "PodMonitor" },
  { combined: true, kind: "ServiceMonitor" },
  { combined: true, kind: "PodMonitor" },
] as const;

describe("chart: metrics targets", () => {
  for (const mode of modes) {
    it(`${mode.combined ? "combined" : "separate"}, ${mode.kind}: each target is one component's pods on its own port`, async () => {
      const objects = await render({
        combined: mode.combined,
        agent: { enabled: true, config: { receivers: ["10.0.0.1:6666"] } },
        metrics: { monitor: { enabled: true, kind: mode.kind, labels: { release: "kps" }, namespace: "monitoring" } },
      });
      const monitors = objects.filter((o) => o.kind === mode.kind);
      assert.deepEqual(monitors.map((m) => m.metadata.labels?.["app.kubernetes.io/component"]).sort(), [
        "receiver",
        "reconciler",
      ]);
      for (const monitor of monitors) {
        const component = monitor.metadata.labels!["app.kubernetes.io/component"] as "receiver" | "reconciler";
        assert.equal(monitor.metadata.namespace, "monitoring");
        assert.equal(monitor.metadata.labels?.release, "kps");
        assert.deepEqual(monitor.spec.namespaceSelector, { matchNames: ["lg"] });
        const targets = targetsOf(monitor, objects);
        const expected = mode.combined ? "t-lastgasp" : `t-lastgasp-${component}`;
        assert.deepEqual(
          targets.map((t) => t.workload.metadata.name),
          [expected],
          `${monitor.metadata.name} selects exactly the ${component}'s pods`,
        );
        assert.equal(
          targets[0]!.port,
          HTTP_PORT[component],
          `${monitor.metadata.name} scrapes the ${component}'s port`,
        );
      }
    });
  }
});

const podSettings = {
  imagePullSecrets: [{ name: "registry" }],
  podAnnotations: { "example.com/owner": "sre" },
  podLabels: { team: "platform" },
  extraEnv: [{ name: "HTTPS_PROXY", value: "http://proxy:3128" }],
  podSecurityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
  securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
  receiver: { nodeSelector: { pool: "receivers" }, tolerations: [{ key: "r", operator: "Exists" }] },
  reconciler: { nodeSelector: { pool: "control" }, priorityClassName: "lastgasp-high" },
  agent: { enabled: true, config: { receivers: ["10.0.0.1:6666"] }, nodeSelector: { pool: "all" } },
};

describe("chart: pod settings", () => {
  for (const combined of [false, true]) {
    it(`every workload carries them (${combined ? "combined" : "separate"})`, async () => {
      const objects = await render({ ...podSettings, combined });
      const workloads = objects.filter((o) => podTemplate(o) !== undefined);
      const names = workloads.map((w) => `${w.kind}/${w.metadata.name}`).sort();
      const expected = combined
        ? [
            "DaemonSet/t-lastgasp-agent",
            "DaemonSet/t-lastgasp-agent-remove",
            "Deployment/t-lastgasp",
            "Job/t-lastgasp-agent-remove",
          ]
        : [
            "DaemonSet/t-lastgasp-agent",
            "DaemonSet/t-lastgasp-agent-remove",
            "Deployment/t-lastgasp-receiver",
            "Deployment/t-lastgasp-reconciler",
            "Job/t-lastgasp-agent-remove",
          ];
      assert.deepEqual(names, expected);
      for (const w of workloads) {
        const { metadata, spec } = podTemplate(w)!;
        const what = `${w.kind}/${w.metadata.name}`;
        assert.deepEqual(spec.imagePullSecrets, podSettings.imagePullSecrets, `${what}: imagePullSecrets`);
        assert.equal(metadata.labels.team, "platform", `${what}: podLabels`);
        assert.equal(metadata.annotations?.["example.com/owner"], "sre", `${what}: podAnnotations`);
        for (const c of [...spec.containers, ...(spec.initContainers ?? [])])
          assert.ok(
            c.env?.some((e) => e.name === "HTTPS_PROXY"),
            `${what}/${c.name}: extraEnv`,
          );
        const isAgent = w.kind === "DaemonSet";
        const isReconcilerPod = w.metadata.name === "t-lastgasp-reconciler" || w.kind === "Job";
        const component = isAgent ? podSettings.agent : isReconcilerPod ? podSettings.reconciler : podSettings.receiver;
        assert.deepEqual(spec.nodeSelector, component.nodeSelector, `${what}: nodeSelector`);
        const priority = isAgent
          ? "system-node-critical"
          : isReconcilerPod
            ? "lastgasp-high"
            : "system-cluster-critical";
        assert.equal(spec.priorityClassName, priority, `${what}: priorityClassName`);
        if (!isAgent) {
          assert.deepEqual(spec.securityContext, podSettings.podSecurityContext, `${what}: podSecurityContext`);
          for (const c of spec.containers)
            assert.deepEqual(c.securityContext, podSettings.securityContext, `${what}/${c.name}: securityContext`);
        }
      }
      const receivers = workloads.find((w) => w.metadata.name === (combined ? "t-lastgasp" : "t-lastgasp-receiver"))!;
      const spread = podTemplate(receivers)!.spec.topologySpreadConstraints as { topologyKey: string }[];
      assert.deepEqual(
        spread.map((s) => s.topologyKey),
        ["kubernetes.io/hostname", "topology.kubernetes.io/zone"],
        "receivers spread by default",
      );
      assert.deepEqual(
        receivers.spec.template && podTemplate(receivers)!.spec.tolerations,
        podSettings.receiver.tolerations,
      );
    });
  }

  it("renders a PodDisruptionBudget only for components with more than one replica", async () => {
    const pdbs = async (values: Record<string, unknown>) =>
      (await render(values)).filter((o) => o.kind === "PodDisruptionBudget").map((o) => o.metadata.name);
    assert.deepEqual(await pdbs({}), ["t-lastgasp-receiver", "t-lastgasp-reconciler"]);
    assert.deepEqual(await pdbs({ receiver: { replicas: 1 }, reconciler: { replicas: 1 } }), []);
    assert.deepEqual(await pdbs({ receiver: { replicas: 1 } }), ["t-lastgasp-reconciler"]);
  });

  it("rolls hostNetwork receivers without a surge pod (it could not bind the port); strategy values win", async () => {
    const strategies = async (values: Record<string, unknown>) =>
      Object.fromEntries(
        (await render(values)).filter((o) => o.kind === "Deployment").map((o) => [o.metadata.name, o.spec.strategy]),
      );
    const replace = { type: "RollingUpdate", rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } };
    assert.deepEqual(await strategies({}), { "t-lastgasp-receiver": undefined, "t-lastgasp-reconciler": undefined });
    assert.deepEqual(await strategies({ receiver: { hostNetwork: true } }), {
      "t-lastgasp-receiver": replace,
      "t-lastgasp-reconciler": undefined,
    });
    assert.deepEqual(await strategies({ combined: true, receiver: { hostNetwork: true } }), { "t-lastgasp": replace });
    const recreate = { type: "Recreate" };
    assert.deepEqual(
      await strategies({ receiver: { hostNetwork: true, strategy: recreate }, reconciler: { strategy: recreate } }),
      { "t-lastgasp-receiver": recreate, "t-lastgasp-reconciler": recreate },
    );
  });

  it("the uninstall hook gives up on nodes that cannot run its pod instead of wedging the release", async () => {
    const objects = await render({ agent: { enabled: true, config: { receivers: ["10.0.0.5:6666"] } } });
    const job = objects.find((o) => o.kind === "Job" && o.metadata.name === "t-lastgasp-agent-remove")!;
    const args = (job.spec as { template: { spec: { containers: { args: string[] }[] } } }).template.spec.containers[0]!
      .args;
    assert.deepEqual(args.slice(-3), ["--timeout-seconds", "120", "--fail-on-timeout=false"]);
    // helm's own --timeout (5 minutes by default) must not end first: the Job's deadline leaves a minute's margin.
    assert.equal(job.spec.activeDeadlineSeconds, 180);
  });
});

describe("chart: Grafana dashboard", () => {
  it("is a ConfigMap for Grafana's sidecar whose every query uses registered metrics and passes promtool", async () => {
    assert.deepEqual(
      (await render({})).filter((o) => o.kind === "ConfigMap" && o.metadata.name.endsWith("-dashboard")),
      [],
      "off by default",
    );
    const objects = await render({ metrics: { dashboard: { enabled: true } } });
    const [map] = objects.filter((o) => o.kind === "ConfigMap" && o.metadata.name === "t-lastgasp-dashboard");
    assert.ok(map, "rendered");
    assert.equal(map.metadata.labels?.grafana_dashboard, "1", "the label kube-prometheus-stack's sidecar selects");
    const data = (map as unknown as { data: Record<string, string> }).data;
    const dashboard = JSON.parse(data["lastgasp.json"]!) as {
      uid: string;
      templating: { list: { definition?: string }[] };
      panels: { title: string; targets?: { expr: string }[] }[];
    };
    assert.equal(dashboard.uid, "lastgasp");
    const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
    const exported = await registeredMetricNames();
    for (const { panel, expr } of [
      ...queries,
      ...dashboard.templating.list.flatMap((v) =>
        v.definition === undefined ? [] : [{ panel: "variable", expr: v.definition }],
      ),
    ])
      for (const name of expr.match(/\blastgasp_\w+/g) ?? [])
        assert.ok(exported.has(name), `${panel} queries ${name}, which lastgasp does not register`);
    // Coverage per node: which last words each node keeps, and the nodes that keep none.
    const all = queries.map((q) => q.expr).join("\n");
    for (const name of ["lastgasp_last_words_nodes", "lastgasp_node_without_last_words", "lastgasp_netconsole_nodes"])
      assert.match(all, new RegExp(`\\b${name}\\b`));
    // promtool parses PromQL in rule files: each query as a recording rule.
    const file = join(work, "dashboard-rules.yaml");
    const rules = queries.map((q, i) => ({ record: `lastgasp:dashboard:${i}`, expr: q.expr }));
    writeFileSync(file, stringify({ groups: [{ name: "dashboard", rules }] }));
    await exec(promtool, ["check", "rules", file]);
  });
});

describe("chart: PrometheusRule", () => {
  it("queries only metrics the operator registers, and passes promtool check rules", async () => {
    for (const kind of ["ServiceMonitor", "PodMonitor"]) {
      const objects = await render({ metrics: { monitor: { kind }, prometheusRule: { enabled: true } } });
      const [rule] = objects.filter((o) => o.kind === "PrometheusRule");
      assert.ok(rule, "rendered");
      const groups = rule.spec.groups as { rules: { alert: string; expr: string }[] }[];
      const exported = await registeredMetricNames();
      for (const r of groups.flatMap((g) => g.rules)) {
        for (const name of r.expr.match(/\b(lastgasp_\w+|up)\b/g) ?? [])
          assert.ok(
            name === "up" || exported.has(name),
            `${r.alert} queries ${name}, which lastgasp does not register`,
          );
      }
      const file = join(work, "rules.yaml");
      writeFileSync(file, stringify({ groups }));
      await exec(promtool, ["check", "rules", file]);
    }
  });

  it("every alert fires on what it is about and stays quiet otherwise (promtool test rules)", async () => {
    const objects = await render({ metrics: { prometheusRule: { enabled: true } } });
    const groups = prometheusRule(objects).spec.groups as { rules: { alert: string; annotations?: unknown }[] }[];
    assert.deepEqual(
      groups.flatMap((g) => g.rules.map((r) => r.alert)).sort(),
      [...ALERTS].sort(),
      "the schema's list",
    );
    // The firing logic under test: expression, for and labels (the annotations' text is checked below).
    for (const rule of groups.flatMap((g) => g.rules)) delete rule.annotations;
    writeFileSync(join(work, "rules.yaml"), stringify({ groups }));
    copyFileSync(alertTests, join(work, "alerts.test.yaml"));
    const { stdout } = await exec(promtool, ["test", "rules", join(work, "alerts.test.yaml")]);
    assert.match(stdout, /SUCCESS/);
    // Every alert is tested, firing and not.
    const tested = readFileSync(alertTests, "utf8");
    for (const alert of ALERTS) assert.match(tested, new RegExp(`alertname: ${alert}\\b`), `${alert} has tests`);
  });

  it("each alert links its runbook section, and can be switched off, retimed or re-rated one by one", async () => {
    const runbooks = readFileSync(fileURLToPath(new URL("../../docs/runbooks.md", import.meta.url)), "utf8");
    const rules = (values: Record<string, unknown>) =>
      (prometheusRule(objects(values)).spec.groups as { rules: Rule[] }[]).flatMap((g) => g.rules);
    const objects = (values: Record<string, unknown>) => rendered.get(JSON.stringify(values))!;
    const cases = [
      { metrics: { prometheusRule: { enabled: true } } },
      {
        metrics: {
          prometheusRule: {
            enabled: true,
            alerts: {
              LastgaspCascadeHeld: { enabled: false },
              LastgaspNetconsoleSilent: { for: "1h", severity: "critical" },
            },
            additionalRules: [{ alert: "MyOwn", expr: "vector(1) > 2" }],
          },
        },
      },
    ];
    const rendered = new Map<string, Obj[]>();
    for (const values of cases) rendered.set(JSON.stringify(values), await render(values));
    for (const rule of rules(cases[0]!)) {
      const anchor = rule.alert.toLowerCase();
      assert.equal(
        rule.annotations.runbook_url,
        `https://github.com/lastgasp/lastgasp/blob/main/docs/runbooks.md#${anchor}`,
      );
      assert.match(runbooks, new RegExp(`^## ${rule.alert}$`, "m"), `docs/runbooks.md has a section for ${rule.alert}`);
      assert.ok(rule.labels.severity, `${rule.alert} has a severity`);
    }
    const tuned = rules(cases[1]!);
    assert.ok(!tuned.some((r) => r.alert === "LastgaspCascadeHeld"), "switched off");
    const silent = tuned.find((r) => r.alert === "LastgaspNetconsoleSilent")!;
    assert.deepEqual([silent.for, silent.labels.severity], ["1h", "critical"]);
    assert.ok(
      tuned.some((r) => r.alert === "MyOwn"),
      "the user's own rule is added",
    );
    await assert.rejects(
      render({ metrics: { prometheusRule: { alerts: { LastgaspKernelPanik: { enabled: false } } } } }),
      /LastgaspKernelPanik/,
      "a misspelt alert name is refused",
    );
  });

  it("carries the monitors' labels unless it has its own (kube-prometheus-stack selects rules by them)", async () => {
    const inherited = prometheusRule(
      await render({ metrics: { monitor: { labels: { release: "prom" } }, prometheusRule: { enabled: true } } }),
    );
    assert.equal(inherited.metadata.labels?.release, "prom");
    const own = prometheusRule(
      await render({
        metrics: {
          monitor: { labels: { release: "prom" } },
          prometheusRule: { enabled: true, labels: { rules: "x" } },
        },
      }),
    );
    assert.deepEqual([own.metadata.labels?.rules, own.metadata.labels?.release], ["x", undefined]);
  });
});

interface Rule {
  alert: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

const alertTests = fileURLToPath(new URL("../fixtures/alerts/alerts.test.yaml", import.meta.url));

function prometheusRule(objects: Obj[]): Obj {
  const rule = objects.find((o) => o.kind === "PrometheusRule");
  assert.ok(rule, "a PrometheusRule is rendered");
  return rule;
}
