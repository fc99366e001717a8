// The two ways a receive thread reads its sockets give the same panics: every real-kernel fixture's datagrams
// (test/fixtures/real-kernels: what Debian kernels sent), sent over loopback to a pool on the batched path
// (recvmmsg through the addon, which `npm ci` builds) and to a pool on Node's dgram, come out as the same reports,
// field for field (but the time each was detected), and as one report per fixture.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import { systemClock } from "../../operator/clock.ts";
import { createLogger } from "../../operator/log.ts";
import { IngestPool, type IngestOutputs } from "../../operator/receiver/main/ingest-pool.ts";
import type { PanicReport, PoolInit } from "../../operator/receiver/ingest-messages.ts";
import { sendDatagrams } from "../../operator/sender/send.ts";
import { TEST_INGEST_OPTIONS } from "../harness/ingest.ts";
import { waitFor } from "../harness/wait.ts";

const dir = new URL("../fixtures/real-kernels/", import.meta.url);
const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith(".json"))
  .map((file) => JSON.parse(readFileSync(new URL(file, dir), "utf8")) as { datagrams: { base64: string }[] });

const init = (receivePath: PoolInit["receivePath"]): PoolInit => ({
  ingest: { ...TEST_INGEST_OPTIONS, maxBufferedBytes: 8 * 1024 * 1024, allowedSourceCidrs: ["127.0.0.0/8"] },
  listen: ["127.0.0.1:0"],
  socketReceiveBufferBytes: 4 << 20,
  receivePath,
  tickMs: 20,
  heartbeatMs: 100,
  logLevel: "silent",
  logFormat: "json",
});

const heap = { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 8 };
const deps = { log: createLogger("silent", "receiver"), clock: systemClock };

/** Every fixture sent from an address of its own (127.0.0.40, .41, …); the reports, detection time left out. */
async function reportsThrough(pool: IngestPool, reports: PanicReport[]): Promise<object[]> {
  for (const [i, fixture] of fixtures.entries()) {
    const datagrams = fixture.datagrams.map((d) => Buffer.from(d.base64, "base64"));
    await sendDatagrams(datagrams, { to: `127.0.0.1:${pool.ports[0]!}`, from: `127.0.0.${40 + i}` });
  }
  await waitFor(() => reports.length >= fixtures.length, { what: "a panic per fixture", timeoutMs: 20_000 });
  return reports
    .map((report) => ({ ...report, detectedAtMs: "when each was detected differs" }))
    .sort((a, b) => a.hostIP.localeCompare(b.hostIP, "en", { numeric: true }));
}

function outputs(reports: PanicReport[]): IngestOutputs {
  return {
    panics: { offer: (r) => reports.push(r) },
    selfTests: { heard: () => undefined },
    afterPanic: { heard: () => undefined },
  };
}

describe("receive paths", () => {
  const pools: IngestPool[] = [];
  after(async () => {
    for (const pool of pools) await pool.stop().catch(() => undefined);
  });

  it("recvmmsg and dgram give the same panics, byte for byte, from every real kernel's datagrams", async () => {
    const batched: PanicReport[] = [];
    const plain: PanicReport[] = [];
    const viaAddon = await IngestPool.start(init("auto"), 1, heap, outputs(batched), deps);
    pools.push(viaAddon);
    const viaDgram = await IngestPool.start(init("dgram"), 1, heap, outputs(plain), deps);
    pools.push(viaDgram);
    assert.equal(viaAddon.receivePath, "recvmmsg", `the addon loads (${viaAddon.fallbackReason ?? ""})`);
    assert.equal(viaDgram.receivePath, "dgram");
    assert.equal(viaDgram.fallbackReason, undefined, "chosen, not fallen back to");

    const fromAddon = await reportsThrough(viaAddon, batched);
    const fromDgram = await reportsThrough(viaDgram, plain);
    assert.equal(fromAddon.length, fixtures.length);
    assert.deepEqual(fromAddon, fromDgram);
  });
});
