// The Node watches on a real API server: the reconciler's node cache (reconciler/corroboration/node-cache.ts) fills
// from the list, follows creations, label changes and deletions, keeps each Node trimmed (no images, no
// conditions), and says nothing once stopped; the receiver gate's addresses (receiver/main/node-addresses.ts)
// follow Nodes and their boot ids the same way. Everything made here is deleted again: later files share this control
// plane.
import { CoreV1Api, PatchStrategy, setHeaderOptions, type V1Node } from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { systemClock } from "../../operator/clock.ts";
import { ApiCaller } from "../../operator/kube/caller.ts";
import { ClusterReader } from "../../operator/kube/reader.ts";
import { createLogger } from "../../operator/log.ts";
import { NodeCache } from "../../operator/reconciler/corroboration/node-cache.ts";
import { NodeAddresses } from "../../operator/receiver/main/node-addresses.ts";
import { adminKubeConfig, uniqueName } from "../harness/cluster.ts";
import { waitFor } from "../harness/wait.ts";

const kc = adminKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const run = uniqueName("nodecache");

function nodeBody(name: string, ip: string, bootID?: string): V1Node {
  return {
    metadata: { name, labels: { "lastgasp.dev/test": run } },
    status: {
      ...(bootID === undefined ? {} : { nodeInfo: nodeInfo(bootID) }),
      addresses: [{ type: "InternalIP", address: ip }],
      images: [{ names: [`registry.example/${name}:big`], sizeBytes: 1 }],
      conditions: [{ type: "Ready", status: "True" }],
    },
  };
}

function cached(cache: NodeCache, name: string): V1Node | undefined {
  return cache.snapshot()?.find((n) => n.metadata?.name === name);
}

describe("the node cache on a real Node watch", () => {
  const reader = new ClusterReader(
    kc,
    new ApiCaller({ qps: 1000, burst: 1000, requestTimeoutMs: 30_000, throttleRetries: 5 }, systemClock),
  );
  const cache = new NodeCache({
    source: reader,
    log: createLogger("silent", "test"),
    clock: systemClock,
    retryMs: 200,
  });
  const names = [`${run}-listed`, `${run}-added`];
  let stop: (() => Promise<void>) | undefined;

  after(async () => {
    await stop?.();
    for (const name of names) await core.deleteNode({ name }).catch(() => undefined);
  });

  it("fills from the list, follows the watch, keeps Nodes trimmed, and says nothing once stopped", async () => {
    await core.createNode({ body: nodeBody(names[0]!, "10.78.0.1") });
    assert.equal(cache.snapshot(), undefined, "a cache not started says nothing");
    stop = cache.start();
    const listed = await waitFor(() => cached(cache, names[0]!), { what: "the listed Node in the cache" });
    assert.deepEqual(listed.status, { addresses: [{ type: "InternalIP", address: "10.78.0.1" }] });
    assert.ok(listed.metadata?.creationTimestamp instanceof Date);
    assert.equal(listed.metadata?.labels?.["lastgasp.dev/test"], run);

    await core.createNode({ body: nodeBody(names[1]!, "10.78.0.2") });
    const added = await waitFor(() => cached(cache, names[1]!), { what: "the added Node in the cache" });
    assert.deepEqual(added.status, { addresses: [{ type: "InternalIP", address: "10.78.0.2" }] });
    assert.ok(added.metadata?.creationTimestamp instanceof Date, "a watched Node's time is a Date, as a listed one's");

    await core.patchNode(
      { name: names[1]!, body: { metadata: { labels: { "lastgasp.dev/exclude": "true" } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    await waitFor(() => cached(cache, names[1]!)?.metadata?.labels?.["lastgasp.dev/exclude"] === "true", {
      what: "the label change in the cache",
    });

    await core.deleteNode({ name: names[0]! });
    await waitFor(() => cache.snapshot() !== undefined && cached(cache, names[0]!) === undefined, {
      what: "the deleted Node gone from the cache",
    });

    await stop();
    stop = undefined;
    assert.equal(cache.snapshot(), undefined, "a stopped cache says nothing");
  });

  it("the receiver's node addresses: known as a Node is created (with its boot id), gone when it is deleted", async () => {
    const addresses = new NodeAddresses({
      source: reader,
      log: createLogger("silent", "test"),
      clock: systemClock,
      retryMs: 200,
    });
    const name = `${run}-addresses`;
    names.push(name);
    const stopAddresses = addresses.start();
    try {
      await waitFor(() => addresses.current(), { what: "the address watch open" });
      await core.createNode({ body: nodeBody(name, "10.78.0.3", "boot-3") });
      const identity = await waitFor(() => addresses.current()?.get("10.78.0.3"), { what: "the new Node's address" });
      assert.deepEqual(identity, { node: name, bootID: "boot-3" });
      await core.deleteNode({ name });
      await waitFor(() => addresses.current()?.has("10.78.0.3") === false, { what: "the deleted Node's address gone" });
    } finally {
      stopAddresses();
    }
    assert.equal(addresses.current(), undefined, "stopped, it says nothing");
  });
});

function nodeInfo(bootID: string) {
  return {
    bootID,
    architecture: "amd64",
    containerRuntimeVersion: "",
    kernelVersion: "",
    kubeProxyVersion: "",
    kubeletVersion: "",
    machineID: "",
    operatingSystem: "linux",
    osImage: "",
    systemUUID: "",
  };
}
