// The keys users of other charts type without thinking (AWS Node Termination Handler's, node-problem-detector's):
// nameOverride, fullnameOverride, commonLabels, serviceAccount.<component>.{create,name,annotations},
// rbac.create, image.digest, <component>.extraArgs / extraVolumes / extraVolumeMounts. Each renders as asked, the
// whole render passes the API server's strict server-side dry run, and a misspelt key is still refused.
import { CoreV1Api } from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { parseAllDocuments, stringify } from "yaml";
import { ensureBinaries, required } from "../harness/binaries.ts";
import { adminKubeConfig, testKubeconfigPath, uniqueName } from "../harness/cluster.ts";

const chartDir = fileURLToPath(new URL("../../charts/lastgasp", import.meta.url));
const exec = promisify(execFile);
const DIGEST = `sha256:${"ab".repeat(32)}`;
const VAP = "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy";

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: { template?: { spec: PodSpec } };
  subjects?: { kind: string; name: string }[];
}
interface PodSpec {
  serviceAccountName?: string;
  containers: { name: string; image: string; args?: string[]; volumeMounts?: { name: string }[] }[];
  volumes?: { name: string }[];
}

/** Every standard key set at once, as a user would. */
const STANDARD = {
  nameOverride: "panic",
  fullnameOverride: "lastgasp-prod",
  commonLabels: { team: "sre", "cost-center": "42" },
  serviceAccount: {
    receiver: { create: true, name: "", annotations: { "eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/r" } },
    reconciler: { create: false, name: "existing-reconciler" },
  },
  rbac: { create: true },
  image: { digest: DIGEST },
  receiver: {
    extraArgs: ["--log-level", "debug"],
    extraVolumes: [{ name: "ca", configMap: { name: "corp-ca" } }],
    extraVolumeMounts: [{ name: "ca", mountPath: "/etc/corp-ca", readOnly: true }],
  },
  reconciler: { extraArgs: ["--qps", "50"] },
};

let helm: string;
let kubectl: string;
let work: string;

before(async () => {
  const binaries = await ensureBinaries(["helm", "kubernetes"]);
  helm = required(binaries, "HELM");
  kubectl = required(binaries, "KUBECTL");
  work = mkdtempSync(join(tmpdir(), "lastgasp-chart-keys-"));
});
after(() => {
  rmSync(work, { recursive: true, force: true });
});

/** `helm template` with these values; the objects, or the error helm gave. */
async function render(values: Record<string, unknown>, namespace = "lg"): Promise<Obj[]> {
  const file = join(work, `values-${Math.random()}.yaml`);
  writeFileSync(file, stringify(values));
  // As on a cluster that serves ValidatingAdmissionPolicy (1.30+), which the chart checks for.
  const args = ["template", "t", chartDir, "-n", namespace, "-f", file, "--api-versions", VAP];
  const { stdout } = await exec(helm, args, { maxBuffer: 16 << 20 });
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);
}

const workload = (objects: Obj[], name: string) => {
  const found = objects.find((o) => o.kind === "Deployment" && o.metadata.name === name);
  assert.ok(found, `Deployment ${name} in ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(", ")}`);
  return found.spec!.template!.spec;
};

describe("chart: the standard keys", () => {
  it("fullnameOverride names every object; nameOverride the name label; commonLabels on every object", async () => {
    const objects = await render(STANDARD);
    for (const o of objects) {
      assert.match(o.metadata.name, /^lastgasp-prod-/, `${o.kind} ${o.metadata.name}`);
      assert.equal(o.metadata.labels?.["app.kubernetes.io/name"], "panic", `${o.kind} ${o.metadata.name}`);
      assert.equal(o.metadata.labels?.team, "sre", `${o.kind} ${o.metadata.name}`);
      assert.equal(o.metadata.labels?.["cost-center"], "42");
    }
    const named = await render({ nameOverride: "panic" });
    assert.ok(
      named.some((o) => o.metadata.name === "t-panic-receiver"),
      "the release's name with the chart's",
    );
  });

  it("serviceAccount: created with its annotations, or an existing one used by name everywhere", async () => {
    const objects = await render(STANDARD);
    const accounts = objects.filter((o) => o.kind === "ServiceAccount");
    assert.deepEqual(
      accounts.map((o) => o.metadata.name),
      ["lastgasp-prod-receiver"],
      "only the receiver's is created",
    );
    assert.equal(accounts[0]!.metadata.annotations?.["eks.amazonaws.com/role-arn"], "arn:aws:iam::1:role/r");
    assert.equal(workload(objects, "lastgasp-prod-reconciler").serviceAccountName, "existing-reconciler");
    assert.equal(workload(objects, "lastgasp-prod-receiver").serviceAccountName, "lastgasp-prod-receiver");
    const bound = objects.filter((o) => o.kind.endsWith("RoleBinding")).flatMap((o) => o.subjects ?? []);
    assert.ok(bound.some((s) => s.name === "existing-reconciler"));
    assert.ok(!bound.some((s) => s.name === "lastgasp-prod-reconciler"), "no binding names an account not made");
    const policies = objects.filter((o) => o.kind === "ValidatingAdmissionPolicy");
    assert.ok(JSON.stringify(policies).includes(":lastgasp-prod-receiver"), "the receiver's policies name its account");
    const neither = await render({ serviceAccount: { receiver: { create: false }, reconciler: { create: false } } });
    assert.equal(neither.filter((o) => o.kind === "ServiceAccount").length, 0);
    assert.equal(workload(neither, "t-lastgasp-receiver").serviceAccountName, "default");
  });

  it("rbac.create false renders no Role, ClusterRole or binding", async () => {
    const kinds = (await render({ rbac: { create: false } })).map((o) => o.kind);
    assert.deepEqual(
      kinds.filter((k) => /Role/.test(k)),
      [],
    );
    assert.ok(kinds.includes("Deployment"));
  });

  it("image.digest pins every container by content; extraArgs, extraVolumes and extraVolumeMounts are added", async () => {
    const objects = await render(STANDARD);
    const receiver = workload(objects, "lastgasp-prod-receiver");
    const reconciler = workload(objects, "lastgasp-prod-reconciler");
    for (const spec of [receiver, reconciler])
      assert.equal(spec.containers[0]!.image, `ghcr.io/lastgasp/lastgasp@${DIGEST}`);
    assert.deepEqual(receiver.containers[0]!.args, ["receiver", "--log-level", "debug"]);
    assert.deepEqual(reconciler.containers[0]!.args, ["reconciler", "--qps", "50"]);
    assert.ok(receiver.volumes?.some((v) => v.name === "ca"));
    assert.ok(receiver.containers[0]!.volumeMounts?.some((m) => m.name === "ca"));
    const combined = await render({ ...STANDARD, combined: true });
    assert.deepEqual(workload(combined, "lastgasp-prod").containers[0]!.args, [
      "all",
      "--log-level",
      "debug",
      "--qps",
      "50",
    ]);
  });

  it("helm test's pod finds the metrics Services by their service-link variables, whatever the names", async () => {
    const objects = await render(STANDARD);
    const pod = objects.find((o) => o.kind === "Pod" && o.metadata.annotations?.["helm.sh/hook"] === "test");
    assert.ok(pod, "a helm test pod");
    const env = (pod.spec as unknown as { containers: { env: { name: string; value: string }[] }[] }).containers[0]!
      .env;
    for (const component of ["receiver", "reconciler"]) {
      const service = `lastgasp-prod-${component}-metrics`;
      assert.ok(
        objects.some((o) => o.kind === "Service" && o.metadata.name === service),
        service,
      );
      const link = `${service.toUpperCase().replaceAll("-", "_")}_SERVICE_HOST`;
      assert.ok(
        env.some((e) => e.value === link),
        `${link} in ${JSON.stringify(env)}`,
      );
    }
  });

  it("a misspelt key is still refused, naming it", async () => {
    await assert.rejects(
      render({ serviceAcount: { receiver: { create: false } } }),
      /additional properties 'serviceAcount' not allowed/,
    );
    await assert.rejects(render({ receiver: { extraArg: ["--x"] } }), /additional properties 'extraArg' not allowed/);
    await assert.rejects(render({ commonLabels: { team: 7 } }), /commonLabels/);
  });

  it("the render with every key passes the API server's strict server-side dry run", async () => {
    const namespace = uniqueName("chart-keys");
    await adminKubeConfig()
      .makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { name: namespace } } });
    const objects = (await render(STANDARD, namespace)).filter((o) => o.apiVersion !== "monitoring.coreos.com/v1");
    const file = join(work, "rendered.yaml");
    writeFileSync(file, objects.map((o) => JSON.stringify(o)).join("\n---\n"));
    const created = exec(kubectl, [
      "--kubeconfig",
      testKubeconfigPath(),
      "create",
      "--dry-run=server",
      "--validate=strict",
      "-f",
      file,
    ]);
    const { stdout } = await created.catch((err: unknown) => {
      throw new Error(`the dry run refused the render: ${(err as { stderr: string }).stderr}`);
    });
    assert.equal(stdout.trim().split("\n").length, objects.length, stdout);
  });
});
