// The receive threads on real loopback sockets: two threads share the port (SO_REUSEPORT), every source's panic
// comes out exactly once whichever thread heard it, the merged /metrics count every datagram, a panic still
// being collected when the pool stops is completed, and a thread that dies fails liveness.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { Worker } from "node:worker_threads";
import { Registry } from "prom-client";
import { systemClock } from "../../operator/clock.ts";
import { createLogger } from "../../operator/log.ts";
import { encodePlain } from "../../operator/netconsole/encode.ts";
import {
  IngestPool,
  spawnIngestWorker,
  type IngestOutputs,
  type PoolDeps,
  type SpawnThread,
} from "../../operator/receiver/main/ingest-pool.ts";
import type { FromWorker, PanicReport, PoolInit, ToWorker } from "../../operator/receiver/ingest-messages.ts";
import { sendDatagrams } from "../../operator/sender/send.ts";
import { TEST_INGEST_OPTIONS } from "../harness/ingest.ts";
import { waitFor } from "../harness/wait.ts";

const init: PoolInit = {
  ingest: { ...TEST_INGEST_OPTIONS, maxBufferedBytes: 8 * 1024 * 1024, allowedSourceCidrs: ["127.0.0.0/8"] },
  listen: ["127.0.0.1:0"],
  socketReceiveBufferBytes: 1 << 20,
  receivePath: "auto",
  tickMs: 20,
  heartbeatMs: 100,
  logLevel: "silent",
  logFormat: "json",
};

const heap = { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 8 };
const deps: PoolDeps = { log: createLogger("silent", "receiver"), clock: systemClock };

/** The pool's outputs: panics to `onPanic`, the rest ignored. */
const outputs = (onPanic: (report: PanicReport) => void = () => undefined): IngestOutputs => ({
  panics: { offer: onPanic },
  selfTests: { heard: () => undefined },
  afterPanic: { heard: () => undefined },
});

/** Starts the receive threads as the pool does, keeping each Worker: the test asks each thread itself. */
function keptWorkers(): { workers: Worker[]; spawn: SpawnThread } {
  const workers: Worker[] = [];
  const spawn: SpawnThread = (workerData, threadHeap) => {
    const worker = spawnIngestWorker(workerData, threadHeap);
    workers.push(worker);
    return worker;
  };
  return { workers, spawn };
}

/** The datagrams one thread counted, asked over the threads' own protocol (ingest-messages.ts). */
async function packetsOf(worker: Worker): Promise<number> {
  const id = 1_000_000 + Math.floor(Math.random() * 1_000_000);
  return new Promise((resolve) => {
    const onMessage = (message: FromWorker) => {
      if (message.type !== "metrics" || message.id !== id) return;
      worker.off("message", onMessage);
      const json = message.json as { name: string; values: { value: number }[] }[];
      resolve(json.find((m) => m.name === "lastgasp_receiver_packets_total")?.values[0]?.value ?? 0);
    };
    worker.on("message", onMessage);
    worker.postMessage({ type: "metrics", id } satisfies ToWorker);
  });
}

const panicLines = (n: number) => [
  `[ 1.0${n}] sysrq: Trigger a crash`,
  `[ 1.1${n}] Kernel panic - not syncing: sysrq triggered crash ${n}`,
  `[ 1.2${n}] CPU: 0 PID: 1 Comm: sh`,
];

describe("IngestPool", () => {
  const pools: IngestPool[] = [];
  after(async () => {
    for (const pool of pools) await pool.stop().catch(() => undefined);
  });

  it("shares one port between two threads; each source's panic comes out once; metrics are merged", async () => {
    const reports: PanicReport[] = [];
    const { workers, spawn } = keptWorkers();
    const pool = await IngestPool.start(
      init,
      2,
      heap,
      outputs((r) => reports.push(r)),
      { ...deps, spawn },
    );
    pools.push(pool);
    assert.equal(pool.size, 2);
    const sources = Array.from({ length: 24 }, (_, i) => `127.0.0.${i + 10}`);
    let sent = 0;
    for (const [i, from] of sources.entries()) {
      const datagrams = encodePlain(panicLines(i));
      sent += datagrams.length;
      await sendDatagrams(datagrams, { to: `127.0.0.1:${pool.ports[0]!}`, from });
    }
    await waitFor(() => reports.length >= sources.length, { what: "every source's panic", timeoutMs: 10_000 });
    assert.deepEqual(reports.map((r) => r.hostIP).sort(), [...sources].sort());
    const merged = await (
      await pool.metrics(new Registry())
    ).getSingleMetricAsString("lastgasp_receiver_packets_total");
    assert.match(merged, new RegExp(`^lastgasp_receiver_packets_total ${sent}$`, "m"));
    const perThread = await Promise.all(workers.map(packetsOf));
    assert.ok(
      perThread.every((n) => n > 0),
      `the kernel sent every source to one thread: ${perThread.join(", ")}`,
    );
    assert.equal(pool.broken(), undefined);
  });

  it("completes, on stop, a panic whose context it was still collecting", async () => {
    const reports: PanicReport[] = [];
    const slow = {
      ...init,
      ingest: { ...init.ingest, detector: { ...init.ingest.detector, quietMs: 60_000, deadlineMs: 60_000 } },
    };
    const { workers, spawn } = keptWorkers();
    const pool = await IngestPool.start(
      slow,
      2,
      heap,
      outputs((r) => reports.push(r)),
      { ...deps, spawn },
    );
    await sendDatagrams(encodePlain(panicLines(1)), { to: `127.0.0.1:${pool.ports[0]!}`, from: "127.0.0.9" });
    await waitFor(async () => (await Promise.all(workers.map(packetsOf))).reduce((a, b) => a + b, 0) === 3, {
      what: "the packets to arrive",
    });
    assert.equal(reports.length, 0, "still collecting context");
    await pool.stop();
    assert.equal(reports.length, 1);
    assert.equal(reports[0]!.hostIP, "127.0.0.9");
  });

  it("a receive thread that dies makes the pool broken (liveness)", async () => {
    const { workers, spawn } = keptWorkers();
    const pool = await IngestPool.start(init, 2, heap, outputs(), { ...deps, spawn });
    pools.push(pool);
    assert.equal(pool.broken(), undefined);
    await workers[1]!.terminate(); // as a crash would end it
    assert.match(pool.broken() ?? "", /receive thread 1 exited/);
  });

  it("refuses to start when the address cannot be bound, naming it", async () => {
    await assert.rejects(
      IngestPool.start({ ...init, listen: ["192.0.2.1:0"] }, 2, heap, outputs(), deps),
      /cannot listen for netconsole: 192\.0\.2\.1:0/,
    );
  });
});
