// The receiver's stamp of a node whose kernel went on after its panic (receiver/main/after-panic.ts): written only for
// the Node at that address in that boot, so a chain a forger anchored with a made-up boot id writes nothing.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ANNOTATIONS } from "../../operator/api/keys.ts";
import { createLogger } from "../../operator/log.ts";
import { AfterPanicRecorder, type AfterPanicCluster } from "../../operator/receiver/main/after-panic.ts";
import { ReceiverMetrics } from "../../operator/receiver/metrics.ts";

const BOOT = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

function recorder(failWrites = false) {
  const writes: string[] = [];
  const cluster: AfterPanicCluster = {
    identityOf: (hostIP) => (hostIP === "10.0.0.1" ? { node: "worker-1", bootID: BOOT } : undefined),
    annotateNode: (name, annotations) => {
      if (failWrites) return Promise.reject(new Error("API down"));
      writes.push(`${name} ${annotations[ANNOTATIONS.netconsoleAfterPanic]!}`);
      return Promise.resolve();
    },
  };
  const metrics = new ReceiverMetrics({ processMetrics: false });
  return { r: new AfterPanicRecorder(cluster, metrics, createLogger("silent", "test")), writes, metrics };
}

async function counts(metrics: ReceiverMetrics): Promise<Record<string, number>> {
  const values = (await metrics.streamAfterPanic.get()).values;
  return Object.fromEntries(values.map((v) => [String(v.labels.result), v.value]));
}

const heard = { node: "worker-1", bootId: BOOT, hostIP: "10.0.0.1", panicSequence: 77, secondsAfterPanic: 6 };

describe("AfterPanicRecorder", () => {
  it("stamps the Node at the address, in its boot, with the boot and the panic's sequence number", async () => {
    const { r, writes, metrics } = recorder();
    r.heard(heard);
    await r.drain();
    assert.deepEqual(writes, [`worker-1 ${BOOT}/77`]);
    assert.equal((await counts(metrics)).written, 1);
  });

  it("writes nothing for another boot, another node's name, or an address that is no Node's", async () => {
    const { r, writes, metrics } = recorder();
    r.heard({ ...heard, bootId: "ffffffff-0000-4000-8000-000000000000" });
    r.heard({ ...heard, node: "worker-2" });
    r.heard({ ...heard, hostIP: "10.0.0.9" });
    await r.drain();
    assert.deepEqual(writes, []);
    assert.equal((await counts(metrics)).unverified, 3);
  });

  it("counts a failed write, never throws", async () => {
    const { r, metrics } = recorder(true);
    r.heard(heard);
    await r.drain();
    assert.equal((await counts(metrics)).error, 1);
  });
});
