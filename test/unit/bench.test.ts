import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compareWithStock } from "../../bench/lib/compare.ts";
import { metricSum } from "../../bench/lib/prometheus.ts";
import { udpDropsInTable } from "../../bench/lib/procfs.ts";
import { peakRate, percentile, summarize } from "../../bench/lib/stats.ts";

describe("benchmark statistics", () => {
  it("takes percentiles by nearest rank, so every figure is a measured value", () => {
    const samples = Array.from({ length: 200 }, (_, i) => i + 1);
    assert.deepEqual(summarize(samples.reverse()), { count: 200, p50: 100, p99: 198, max: 200 });
    assert.equal(percentile([5], 99), 5);
    assert.throws(() => percentile([], 50), /no samples/);
  });

  it("finds the peak rate of a counter over windows of at least one second", () => {
    const samples = [0, 250, 500, 750, 1000, 1250, 1500, 1750, 2000].map((atMs, i) => ({
      atMs,
      value: i < 4 ? i * 10 : 30 + (i - 3) * 100,
    }));
    // 10 per 250 ms (40/s) at first, then 100 per 250 ms (400/s).
    assert.equal(peakRate(samples), 400);
    assert.equal(peakRate(samples.slice(0, 3)), 0, "less than a second of samples has no rate");
  });
});

describe("benchmark readings", () => {
  it("sums a metric's samples matching labels", () => {
    const text = ["# HELP x_total x", 'x_total{outcome="ok"} 5', 'x_total{outcome="throttled"} 2', "y 1"].join("\n");
    assert.equal(metricSum(text, "x_total"), 7);
    assert.equal(metricSum(text, "x_total", { outcome: "throttled" }), 2);
    assert.equal(metricSum(text, "z"), 0);
  });

  it("reads the drop counter of the sockets bound to a port from /proc/net/udp", () => {
    const table = [
      "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops",
      " 1: 0100007F:1A0A 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 111 2 0000000000000000 42",
      " 2: 0100007F:1A0B 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 112 2 0000000000000000 7",
    ].join("\n");
    assert.equal(udpDropsInTable(table, 6666), 42);
    assert.equal(udpDropsInTable(table, 6667), 7);
    assert.equal(udpDropsInTable(table, 80), 0);
  });

  it("compares S2 with stock Kubernetes, as a lower bound when S6 hit its cap", () => {
    const s2 = { leaseCheckOff: { panicToRemediatedMs: { p50: 2000 } } };
    assert.equal(compareWithStock(s2, { capMs: 600_000, podsGoneMs: null }).figures.speedupLeaseCheckOff, "≥ 300");
    assert.equal(compareWithStock(s2, { capMs: 600_000, podsGoneMs: 400_000 }).figures.speedupLeaseCheckOff, "200");
    assert.deepEqual(compareWithStock(undefined, { capMs: 1 }).rows, []);
  });
});
