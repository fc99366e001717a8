// A real panic survives spoofing of its node's own address. Each test sends what an off-path attacker can send
// from the node's IP (UDP source addresses are not authenticated), then the node's real panic, and checks that
// the real panic is still reported, with its own identity.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeExtended, encodePlain } from "../../operator/netconsole/encode.ts";
import type { ReceiverMetrics } from "../../operator/receiver/metrics.ts";
import { testIngest } from "../harness/ingest.ts";

const NODE = "10.0.0.5";
const REAL = "Kernel panic - not syncing: Fatal exception in interrupt";
const realExtended = (userdata?: Record<string, string>) =>
  encodeExtended([`[ 42.000000] ${REAL}`], {
    extended: true,
    release: "6.12.0-real",
    firstSequence: 777,
    ...(userdata === undefined ? {} : { userdata }),
  });

async function drops(metrics: ReceiverMetrics, reason: string): Promise<number> {
  return (await metrics.drops.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

describe("a real panic survives spoofing of its node's address", () => {
  it("is not rate-limited away by a flood that exhausted its source's token bucket", async () => {
    const { ingest, reports, metrics } = testIngest({ ratePerSecond: 1000, rateBurst: 5000 });
    for (let i = 0; i < 7000; i++) ingest.datagram(NODE, Buffer.from(`junk ${i}\n`), 0);
    assert.ok((await drops(metrics, "rate_limited")) >= 1000, "the flood was limited");
    for (const d of realExtended()) ingest.datagram(NODE, d, 0);
    ingest.tick(1000);
    assert.deepEqual(
      reports.map((r) => [r.hostIP, r.firstLine, r.sequence]),
      [[NODE, REAL, 777]],
    );
  });

  it("is not taken for a repeat of a forged plain panic line with the same text", () => {
    const { ingest, reports } = testIngest();
    for (const d of encodePlain([REAL])) ingest.datagram(NODE, d, 0);
    ingest.tick(500);
    for (const d of realExtended()) ingest.datagram(NODE, d, 600);
    ingest.tick(2000);
    assert.deepEqual(
      reports.map((r) => r.sequence),
      [undefined, 777],
      "the forged one, then the real one with its sequence number",
    );
  });

  it("is not taken for a repeat of a forged extended record with another sequence number", () => {
    const { ingest, reports } = testIngest();
    for (const d of encodeExtended([REAL], { extended: true, firstSequence: 5 })) ingest.datagram(NODE, d, 0);
    for (const d of realExtended()) ingest.datagram(NODE, d, 10);
    ingest.tick(2000);
    assert.deepEqual(
      reports.map((r) => r.sequence),
      [5, 777],
    );
  });

  it("carries only its own userdata, never a spoofed record's", () => {
    const { ingest, reports } = testIngest();
    const spoofed = encodeExtended(["hello"], { extended: true, firstSequence: 700, userdata: { node: "other" } });
    for (const d of spoofed) ingest.datagram(NODE, d, 0);
    for (const d of realExtended()) ingest.datagram(NODE, d, 1);
    ingest.tick(1000);
    assert.deepEqual(reports[0]?.userdata, {}, "no userdata of its own: none");
    for (const d of spoofed) ingest.datagram("10.0.0.6", d, 2000);
    for (const d of realExtended({ node: "w6" }).map((b) => b)) ingest.datagram("10.0.0.6", d, 2001);
    ingest.tick(4000);
    assert.deepEqual(reports[1]?.userdata, { node: "w6" });
  });

  it("starts a line of its own after a spoofed byte without a newline (plain mode)", () => {
    const { ingest, reports } = testIngest();
    ingest.datagram(NODE, Buffer.from("x"), 0);
    for (const d of encodePlain([`[ 42.000000] ${REAL}`])) ingest.datagram(NODE, d, 1);
    ingest.tick(1000);
    assert.deepEqual(
      reports.map((r) => [r.firstLine, r.uptimeMicros]),
      [[REAL, 42_000_000]],
    );
  });

  it("is salvaged, not silently lost, when spoofed fragment starts push its fragments out", async () => {
    const { ingest, reports, metrics } = testIngest();
    // Userdata large enough that netconsole splits the record into ncfrag fragments.
    const userdata = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, "v".repeat(60)]));
    const [first, ...rest] = realExtended(userdata);
    assert.ok(rest.length > 0 && first!.toString("latin1").includes("ncfrag=0/"), "the real record is fragmented");
    ingest.datagram(NODE, first!, 0);
    for (let seq = 1; seq <= 16; seq++)
      ingest.datagram(NODE, Buffer.from(`6,${seq},1000,-,ncfrag=0/5000;spoofed ${seq}`), 1);
    for (const d of rest) ingest.datagram(NODE, d, 2);
    ingest.tick(2000);
    const real = reports.filter((r) => r.firstLine === REAL);
    assert.equal(real.length, 1, "the real panic line was salvaged from its first fragment");
    assert.equal(real[0]!.sequence, 777);
    assert.ok((await drops(metrics, "fragment_evicted")) > 0, "the spoofed starts pushed out are counted");
  });
});
