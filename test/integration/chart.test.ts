// The Helm chart on a real API server: lint, deterministic rendering (GitOps-safe), `helm install`, and then the
// operator running with tokens of the chart's own ServiceAccounts through a full remediation (the RBAC it grants
// is enough) while being refused Secrets (it is not excessive). Its own control plane: the chart installs the CRD.
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import type { Reconciler } from "../../operator/reconciler/loop/controller.ts";
import type { Receiver } from "../../operator/receiver/main/service.ts";
import { GROUP, PLURAL, VERSION } from "../../operator/api/kernelpanicevent.ts";
import { ANNOTATIONS } from "../../operator/api/keys.ts";
import { toKernelPanicEvent } from "../../operator/receiver/main/event.ts";
import { formatSelfTest } from "../../operator/api/selftest.ts";
import { encodeExtended, encodePlain } from "../../operator/netconsole/encode.ts";
import { sendDatagrams } from "../../operator/sender/send.ts";
import { ensureBinaries, required } from "../harness/binaries.ts";
import { CHART_NAMESPACE, chartDir, chartPlane, plainYaml } from "../harness/chart-plane.ts";
import { eventsFor, listKernelPanicEvents, startTestReceiver } from "../harness/receiver.ts";
import { startTestReconciler } from "../harness/reconciler.ts";
import { serviceAccountKubeConfig } from "../harness/tokens.ts";
import { waitFor } from "../harness/wait.ts";
import { createNodeWithPods, podsOn } from "../harness/workloads.ts";

const namespace = CHART_NAMESPACE;
const chart = chartPlane({ kwok: true });
const runHelm = chart.runHelm;
let admin: KubeConfig;
before(async () => {
  await chart.ready;
  admin = chart.admin;
});
after(async () => {
  await chart.stop();
});

describe("helm chart", () => {
  it("passes helm lint", async () => {
    const { stdout } = await runHelm("lint", chartDir, "--strict");
    assert.match(stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it("renders identically twice (no random values, timestamps, or lookups but the install-time check: safe for GitOps)", async () => {
    const render = async () =>
      (await runHelm("template", "lastgasp", chartDir, "-n", namespace, "--set", "combined=false")).stdout;
    const [first, second] = [await render(), await render()];
    assert.equal(first, second);
    assert.ok(first.length > 1000);
    const combined = (await runHelm("template", "lastgasp", chartDir, "-n", namespace, "--set", "combined=true"))
      .stdout;
    assert.match(combined, /args: \["all"\]/);
  });

  it("rejects a misspelt or mistyped value through values.schema.json", async () => {
    await assert.rejects(
      runHelm("template", "lastgasp", chartDir, "--set", "reciever.replicas=2"),
      /additional properties 'reciever' not allowed/,
    );
    await assert.rejects(
      runHelm("template", "lastgasp", chartDir, "--set", "receiver.config.contextLinez=5"),
      /additional properties 'contextLinez' not allowed/,
    );
    await assert.rejects(runHelm("template", "lastgasp", chartDir, "--set", "dryRun=maybe"), /dryRun/);
  });

  it("installs into the cluster, CRD included", async () => {
    await runHelm("install", "lastgasp", chartDir, "-n", namespace, "--create-namespace");
    const extensions = admin.makeApiClient(ApiextensionsV1Api);
    await waitFor(
      async () =>
        (
          await extensions.readCustomResourceDefinition({ name: "kernelpanicevents.lastgasp.dev" })
        ).status?.conditions?.some((c) => c.type === "Established" && c.status === "True"),
      {
        what: "the chart's CRD to be Established",
      },
    );
    const accounts = (await admin.makeApiClient(CoreV1Api).listNamespacedServiceAccount({ namespace })).items.map(
      (a) => a.metadata?.name,
    );
    assert.ok(accounts.includes("lastgasp-receiver") && accounts.includes("lastgasp-reconciler"));
  });

  it("renders monitors and alerts that the Prometheus Operator's own CRDs accept (server-side dry run)", async () => {
    const crds = required(await ensureBinaries(["monitoring-crds"]), "MONITORING_CRDS");
    const api = KubernetesObjectApi.makeApiClient(admin);
    const extensions = admin.makeApiClient(ApiextensionsV1Api);
    for (const plural of ["servicemonitors", "podmonitors", "prometheusrules"]) {
      const [crd] = plainYaml(readFileSync(join(crds, `monitoring.coreos.com_${plural}.yaml`), "utf8"));
      await api.create(crd!);
      await waitFor(
        async () =>
          (
            await extensions.readCustomResourceDefinition({ name: `${plural}.monitoring.coreos.com` })
          ).status?.conditions?.some((c) => c.type === "Established" && c.status === "True"),
        { what: `the ${plural} CRD to be Established` },
      );
    }
    for (const kind of ["ServiceMonitor", "PodMonitor"]) {
      const sets = [
        `metrics.monitor.enabled=true`,
        `metrics.monitor.kind=${kind}`,
        "metrics.prometheusRule.enabled=true",
      ];
      const rendered = await runHelm(
        "template",
        "lastgasp",
        chartDir,
        "-n",
        namespace,
        ...sets.flatMap((s) => ["--set", s]),
      );
      const monitoring = plainYaml(rendered.stdout).filter((o) => o.apiVersion === "monitoring.coreos.com/v1");
      assert.deepEqual(monitoring.map((o) => o.kind).sort(), ["PrometheusRule", kind, kind].sort());
      // Strict field validation: a field the CRD's schema does not know is an error, not silently pruned.
      const dir = mkdtempSync(join(tmpdir(), "monitoring-"));
      const file = join(dir, `${kind}.yaml`);
      writeFileSync(file, monitoring.map((o) => JSON.stringify(o)).join("\n---\n"));
      const kubectl = required(await ensureBinaries(["kubernetes"]), "KUBECTL");
      const args = [
        "--kubeconfig",
        chart.plane.kubeconfigPath,
        "create",
        "--dry-run=server",
        "--validate=strict",
        "-f",
        file,
      ];
      await promisify(execFile)(kubectl, args).finally(() => {
        rmSync(dir, { recursive: true, force: true });
      });
    }
  });
});

describe("the operator with the chart's RBAC", () => {
  let receiverKc: KubeConfig;
  let reconcilerKc: KubeConfig;
  let receiver: Receiver;
  let target: string;
  let reconciler: Reconciler;

  before(async () => {
    receiverKc = await serviceAccountKubeConfig(admin, namespace, "lastgasp-receiver");
    reconcilerKc = await serviceAccountKubeConfig(admin, namespace, "lastgasp-reconciler");
    ({ receiver, target } = await startTestReceiver(receiverKc));
    // Leader election and the lease check on: the chart's Roles for both Leases are exercised too.
    reconciler = await startTestReconciler(reconcilerKc, [
      "--coverage-check-seconds",
      "1",
      "--leader-election-namespace",
      namespace,
    ]);
  });
  after(async () => {
    await receiver.stop();
    await reconciler.stop();
  });

  it("completes a full remediation", async () => {
    const kubelets = await chart.plane.startKubelets("chart");
    await createNodeWithPods(
      admin,
      { namespace: "workload", nodeName: "chart-node", ip: "127.0.0.160", kubelets: "chart" },
      5,
    );
    await kubelets.stop();
    await sendDatagrams(encodePlain(["[ 9.000000] Kernel panic - not syncing: Fatal exception"]), {
      to: target,
      from: "127.0.0.160",
    });
    const [event] = await eventsFor(admin, "127.0.0.160");
    await waitFor(
      async () =>
        (await listKernelPanicEvents(admin))
          .find((e) => e.metadata.name === event!.metadata.name)
          ?.status?.conditions?.some((c) => c.type === "Remediated" && c.status === "True"),
      {
        what: "Remediated=True",
        timeoutMs: 60_000,
      },
    );
    assert.equal((await podsOn(admin, "chart-node")).length, 0);
    await assert.rejects(
      admin.makeApiClient(CoreV1Api).readNode({ name: "chart-node" }),
      (err: { code?: number }) => err.code === 404,
    );
  });

  it("records netconsole coverage (receiver) and counts it (reconciler)", async () => {
    await admin.makeApiClient(CoreV1Api).createNode({
      body: {
        metadata: { name: "chart-covered" },
        status: { addresses: [{ type: "InternalIP", address: "127.0.0.161" }] },
      },
    });
    const line = formatSelfTest({ node: "chart-covered", bootId: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d" });
    await sendDatagrams(encodeExtended([`<12>${line}`], { extended: true }), { to: target, from: "127.0.0.161" });
    await waitFor(
      async () =>
        (await admin.makeApiClient(CoreV1Api).readNode({ name: "chart-covered" })).metadata?.annotations?.[
          ANNOTATIONS.netconsoleLastSeen
        ],
      { what: "the chart-covered Node stamped by the receiver" },
    );
    await waitFor(
      async () =>
        /lastgasp_netconsole_nodes\{state="covered"\} 1/.test(
          await (await fetch(`http://127.0.0.1:${reconciler.httpPort}/metrics`)).text(),
        ),
      { what: "the reconciler to count the covered node", timeoutMs: 90_000 },
    );
  });

  it("is refused Secrets and what else it was not granted", async () => {
    for (const kc of [receiverKc, reconcilerKc]) {
      const core = kc.makeApiClient(CoreV1Api);
      await assert.rejects(core.listSecretForAllNamespaces(), (err: { code?: number }) => err.code === 403);
      await assert.rejects(core.listNamespacedSecret({ namespace }), (err: { code?: number }) => err.code === 403);
      await assert.rejects(
        core.createNamespace({ body: { metadata: { name: "nope" } } }),
        (err: { code?: number }) => err.code === 403,
      );
    }
    await assert.rejects(
      receiverKc.makeApiClient(CoreV1Api).listPodForAllNamespaces(),
      (err: { code?: number }) => err.code === 403,
    );
  });

  it("lets the receiver change its three annotations on a Node and nothing else (ValidatingAdmissionPolicy)", async () => {
    await admin.makeApiClient(CoreV1Api).createNode({
      body: {
        metadata: { name: "chart-guarded", labels: { team: "a" }, annotations: { owner: "ops" } },
        status: { addresses: [{ type: "InternalIP", address: "127.0.0.162" }] },
      },
    });
    const before = await admin.makeApiClient(CoreV1Api).readNode({ name: "chart-guarded" });
    const core = receiverKc.makeApiClient(CoreV1Api);
    const patch = (body: object) =>
      core.patchNode({ name: "chart-guarded", body }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
    const refused = (err: { code?: number; body?: unknown }) =>
      err.code === 422 || (err.code === 403 && /ValidatingAdmissionPolicy|lastgasp receiver/.test(String(err.body)));
    // The policy takes effect once the API server has loaded it.
    await waitFor(
      async () =>
        patch({ spec: { unschedulable: true } }).then(
          () => false,
          (err: unknown) => refused(err as { code?: number; body?: unknown }),
        ),
      { what: "the receiver's cordon to be refused by the policy" },
    );
    const attempts: [string, object][] = [
      ["taint", { spec: { taints: [{ key: "x", effect: "NoExecute" }] } }],
      ["label", { metadata: { labels: { "lastgasp.dev/exclude": "true" } } }],
      ["relabel", { metadata: { labels: { team: "b" } } }],
      ["annotate", { metadata: { annotations: { owner: "attacker" } } }],
      ["unannotate", { metadata: { annotations: { owner: null } } }],
      ["finalize", { metadata: { finalizers: ["x/y"] } }],
    ];
    for (const [what, body] of attempts) await assert.rejects(patch(body), refused, what);
    await patch({ metadata: { annotations: { [ANNOTATIONS.netconsoleLastSeen]: "2026-12-02T00:00:00Z" } } });
    await patch({ metadata: { annotations: { [ANNOTATIONS.netconsoleAfterPanic]: "boot/7" } } });
    await patch({ metadata: { annotations: { [ANNOTATIONS.netconsoleUnavailable]: "no configfs" } } });
    await patch({ metadata: { annotations: { [ANNOTATIONS.netconsoleUnavailable]: null } } });
    const node = await admin.makeApiClient(CoreV1Api).readNode({ name: "chart-guarded" });
    assert.deepEqual(node.metadata?.labels, { team: "a" });
    assert.equal(node.metadata?.annotations?.owner, "ops");
    assert.equal(node.metadata?.annotations?.[ANNOTATIONS.netconsoleLastSeen], "2026-12-02T00:00:00Z");
    assert.equal(node.metadata?.annotations?.[ANNOTATIONS.netconsoleAfterPanic], "boot/7");
    assert.equal(node.metadata?.annotations?.[ANNOTATIONS.netconsoleUnavailable], undefined, "removed again");
    assert.deepEqual(node.spec, before.spec, "not cordoned, not tainted");
  });

  it("refuses the receiver an approved KernelPanicEvent, at creation and after (only people approve), and a recovered one", async () => {
    const objects = receiverKc.makeApiClient(CustomObjectsApi);
    const event = (name: string, annotations?: Record<string, string>) => ({
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      body: {
        ...toKernelPanicEvent(
          {
            hostIP: "127.0.0.163",
            firstLine: "Kernel panic - not syncing: approve test",
            reason: "approve test",
            contextLines: [],
            frames: [],
            detectedAtMs: Date.now(),
            userdata: {},
          },
          "chart-test",
        ),
        metadata: { name, ...(annotations === undefined ? {} : { annotations }) },
      },
    });
    const byPolicy = (err: { code?: number; body?: unknown }) =>
      (err.code === 403 || err.code === 422) && /may not approve a KernelPanicEvent/.test(String(err.body));
    // The policy takes effect once the API server has loaded it.
    await waitFor(
      async () =>
        objects.createClusterCustomObject(event("chart-approved", { [ANNOTATIONS.approve]: "true" })).then(
          () => false,
          (err: unknown) => byPolicy(err as { code?: number; body?: unknown }),
        ),
      { what: "the receiver's approved event to be refused by the policy" },
    );
    await assert.rejects(
      objects.createClusterCustomObject(event("chart-approved-false", { [ANNOTATIONS.approve]: "false" })),
      byPolicy,
    );
    await objects.createClusterCustomObject(event("chart-unapproved"));
    await assert.rejects(
      objects.patchClusterCustomObject(
        {
          group: GROUP,
          version: VERSION,
          plural: PLURAL,
          name: "chart-unapproved",
          body: { metadata: { annotations: { [ANNOTATIONS.approve]: "true" } } },
        },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      ),
      (err: { code?: number }) => err.code === 403,
    );
    // A receiver may not file a panic as recovered: the reconciler would never act on it.
    const recovered = event("chart-recovered");
    await assert.rejects(
      objects.createClusterCustomObject({
        ...recovered,
        body: { ...recovered.body, spec: { ...recovered.body.spec, source: "pstore" } },
      }),
      (err: { code?: number; body?: unknown }) =>
        (err.code === 403 || err.code === 422) && /not its to record/.test(String(err.body)),
    );
    await objects.createClusterCustomObject({
      ...event("chart-netconsole"),
      body: {
        ...event("chart-netconsole").body,
        spec: { ...event("chart-netconsole").body.spec, source: "netconsole" },
      },
    });
  });
});
