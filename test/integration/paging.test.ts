// Lists past one page at a real API server: the Nodes (and their addresses), one node's pods and the
// KernelPanicEvents each come back whole when there are more than PAGE of them, the continue token followed to
// the last page. Everything made here is deleted again: later files share this control plane.
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { GROUP, PLURAL, VERSION, type KernelPanicEvent } from "../../operator/api/kernelpanicevent.ts";
import { systemClock } from "../../operator/clock.ts";
import { forEachLimit } from "../../operator/concurrency.ts";
import { ApiCaller } from "../../operator/kube/caller.ts";
import { ClusterReader, PAGE } from "../../operator/kube/reader.ts";
import { adminKubeConfig, uniqueName } from "../harness/cluster.ts";

const kc = adminKubeConfig();
/** Past one page, into a second. */
const COUNT = PAGE + 17;
const CREATE_CONCURRENCY = 16;
const run = uniqueName("paging");
const label = { "lastgasp.dev/test": run };

function reader(config: KubeConfig): ClusterReader {
  return new ClusterReader(
    config,
    new ApiCaller({ qps: 1000, burst: 1000, requestTimeoutMs: 30_000, throttleRetries: 5 }, systemClock),
  );
}

function panicEvent(i: number): KernelPanicEvent {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: "KernelPanicEvent",
    metadata: { name: `${run}-${i}`, labels: label },
    spec: {
      hostIP: `10.77.${Math.floor(i / 250)}.${i % 250}`,
      firstLine: "Kernel panic - not syncing: paging",
      reason: "paging",
      contextLines: [],
      detectedTime: new Date().toISOString(),
      receivedBy: "paging-test",
    },
  };
}

describe(`lists past one page (${COUNT} items, pages of ${PAGE})`, () => {
  const core = kc.makeApiClient(CoreV1Api);
  const objects = kc.makeApiClient(CustomObjectsApi);
  const namespace = run;
  const nodeName = `${run}-node`;
  const indexes = Array.from({ length: COUNT }, (_, i) => i);

  before(async () => {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await forEachLimit(indexes, CREATE_CONCURRENCY, async (i) => {
      await core.createNode({
        body: {
          metadata: { name: `${run}-${i}`, labels: label },
          status: { addresses: [{ type: "InternalIP", address: `10.77.${Math.floor(i / 250)}.${i % 250}` }] },
        },
      });
      // Bound to a node no kubelet runs: the API server keeps the pod as created.
      await core.createNamespacedPod({
        namespace,
        body: {
          metadata: { name: `pod-${i}`, labels: label },
          spec: { nodeName, containers: [{ name: "main", image: "registry.k8s.io/pause:3.10" }] },
        },
      });
      await objects.createClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, body: panicEvent(i) });
    });
  });

  after(async () => {
    const labelSelector = `lastgasp.dev/test=${run}`;
    await core.deleteCollectionNode({ labelSelector });
    await core.deleteCollectionNamespacedPod({ namespace, labelSelector, gracePeriodSeconds: 0 });
    await objects.deleteCollectionClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      labelSelector,
    });
    await core.deleteNamespace({ name: namespace });
  });

  it("Nodes and their addresses", async () => {
    const ours = (await reader(kc).listNodes()).filter((n) => n.metadata?.labels?.["lastgasp.dev/test"] === run);
    assert.equal(ours.length, COUNT);
    assert.equal(new Set(ours.map((n) => n.metadata?.name)).size, COUNT, "no Node twice");
    const addresses = await reader(kc).listNodeAddresses();
    for (const i of [0, PAGE - 1, PAGE, COUNT - 1])
      assert.equal(addresses.get(`10.77.${Math.floor(i / 250)}.${i % 250}`)?.node, `${run}-${i}`);
  });

  it("one node's pods", async () => {
    const pods = await reader(kc).listPodsOnNode(nodeName);
    assert.equal(pods.length, COUNT);
    assert.equal(new Set(pods.map((p) => p.metadata?.name)).size, COUNT, "no pod twice");
  });

  it("KernelPanicEvents, with the resourceVersion to watch from", async () => {
    const { items, resourceVersion } = await reader(kc).listKernelPanicEvents();
    const ours = items.filter((e) => e.metadata.labels?.["lastgasp.dev/test"] === run);
    assert.equal(ours.length, COUNT);
    assert.equal(new Set(ours.map((e) => e.metadata.name)).size, COUNT, "no event twice");
    assert.match(resourceVersion, /^\d+$/);
  });
});
