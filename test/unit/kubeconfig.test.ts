import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KubeConfig, type RequestContext } from "@kubernetes/client-node";
import { reuseConnections } from "../../operator/kube/kubeconfig.ts";

function kubeConfig(token: string, caData = "Y2E="): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: "https://127.0.0.1:6443", caData }],
    users: [{ name: "u", token }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  return kc;
}

/** The connection pool (dispatcher) client-node attaches to one request. */
async function poolOf(kc: KubeConfig): Promise<unknown> {
  let dispatcher: unknown;
  const context = {
    setHeaderParam: () => undefined,
    setDispatcher: (d: unknown) => (dispatcher = d),
  } as unknown as RequestContext;
  await kc.applySecurityAuthentication(context);
  return dispatcher;
}

describe("reuseConnections", () => {
  it("gives every request the same connection pool, where client-node alone makes a new one each time", async () => {
    const plain = kubeConfig("t");
    assert.notEqual(await poolOf(plain), await poolOf(plain), "client-node's own behaviour changed");
    const pooled = reuseConnections(kubeConfig("t"));
    const first = await poolOf(pooled);
    assert.ok(first !== undefined);
    assert.equal(await poolOf(pooled), first);
  });

  it("uses another pool when the TLS options differ", async () => {
    const kc = reuseConnections(kubeConfig("t"));
    const first = await poolOf(kc);
    (kc.clusters[0] as { caData: string }).caData = "b3RoZXI=";
    assert.notEqual(await poolOf(kc), first);
  });
});
