// The receiver core's safety rails: allow-list, per-source rate limit, bounded state under floods.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { testIngest } from "../harness/ingest.ts";
import { SourceAllowList } from "../../operator/net/addresses.ts";
import { ReceiverMetrics } from "../../operator/receiver/metrics.ts";

const PANIC = Buffer.from("[ 9.000000] Kernel panic - not syncing: Fatal exception\n");

async function counter(metrics: ReceiverMetrics, name: "drops" | "parseErrors", label: string): Promise<number> {
  const values = (await metrics[name].get()).values;
  return values.find((v) => Object.values(v.labels).includes(label))?.value ?? 0;
}

describe("Ingest", () => {
  it("reports a panic once its source goes quiet, with the source address as host IP", () => {
    const { ingest, reports } = testIngest();
    ingest.datagram("10.1.2.3", PANIC, 0);
    ingest.tick(100);
    assert.equal(reports.length, 0);
    ingest.tick(200);
    assert.deepEqual(
      reports.map((r) => [r.hostIP, r.reason, r.uptimeMicros]),
      [["10.1.2.3", "Fatal exception", 9_000_000]],
    );
  });

  it("drops and counts packets from outside the allowed networks (IPv4 and IPv6)", async () => {
    const { ingest, metrics, reports } = testIngest({ allowList: new SourceAllowList(["10.0.0.0/8", "fd00::/64"]) });
    ingest.datagram("192.168.1.1", PANIC, 0);
    ingest.datagram("fd01::1", PANIC, 0);
    ingest.datagram("fd00::7", PANIC, 0);
    ingest.tick(1000);
    assert.deepEqual(
      reports.map((r) => r.hostIP),
      ["fd00::7"],
    );
    assert.equal(await counter(metrics, "drops", "not_allowed"), 2);
  });

  it("rate-limits each source separately", async () => {
    const { ingest, metrics } = testIngest({ ratePerSecond: 10, rateBurst: 5 });
    for (let i = 0; i < 8; i++) ingest.datagram("10.0.0.1", Buffer.from(`line ${i}\n`), 0);
    ingest.datagram("10.0.0.2", Buffer.from("other source\n"), 0);
    assert.equal(await counter(metrics, "drops", "rate_limited"), 3);
    ingest.datagram("10.0.0.1", Buffer.from("refilled\n"), 100);
    assert.equal(await counter(metrics, "drops", "rate_limited"), 3, "one token back after 100 ms at 10/s");
  });

  it("tracks at most maxSources under a flood of new addresses, and still completes evicted panics", () => {
    const { ingest, reports } = testIngest({ maxSources: 50 });
    ingest.datagram("10.9.9.9", PANIC, 0);
    for (let i = 0; i < 5000; i++) ingest.datagram(`10.0.${i >> 8}.${i & 255}`, Buffer.from("hello\n"), 1);
    assert.ok(ingest.sourceCount <= 50, `tracking ${ingest.sourceCount} sources`);
    assert.deepEqual(
      reports.map((r) => r.hostIP),
      ["10.9.9.9"],
      "the panic of an evicted source is reported, not lost",
    );
  });

  // Random bytes mostly hold a NUL and are refused before parsing: the parsers are fuzzed in budgets.test.ts.
  it("survives a flood of random bytes with bounded buffered bytes, counting parse errors", async () => {
    const { ingest, metrics } = testIngest({ maxSources: 20 });
    for (let i = 0; i < 2000; i++) ingest.datagram(`10.0.0.${i % 20}`, randomBytes(1 + (i % 1200)), i);
    // Unterminated text: at most one partial line (1024) per source, and fragments at most maxInFlight * cap.
    ingest.tick(2000);
    assert.ok(ingest.bufferedBytes <= 20 * (1024 + 8 * 8192), `buffered ${ingest.bufferedBytes}`);
    assert.ok((await counter(metrics, "parseErrors", "binary")) > 0);
    assert.ok((await counter(metrics, "parseErrors", "oversized")) > 0);
  });

  it("evicts idle sources", () => {
    const { ingest } = testIngest({ sourceIdleMs: 1000 });
    ingest.datagram("10.0.0.1", Buffer.from("hi\n"), 0);
    ingest.datagram("10.0.0.2", Buffer.from("hi\n"), 900);
    ingest.tick(1000);
    assert.equal(ingest.sourceCount, 1);
  });

  it("drain reports panics still being collected", () => {
    const { ingest, reports } = testIngest();
    ingest.datagram("10.0.0.1", PANIC, 0);
    ingest.drain(1);
    assert.equal(reports.length, 1);
  });
});
