// Priority under overload: a shedding receive thread drops chatter and counts it, but never a panic line, the
// severe records before it, or the context of a panic it is collecting.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { encodeExtended, encodePlain } from "../../operator/netconsole/encode.ts";
import { loadPatterns, parsePatterns } from "../../operator/receiver/detector/patterns.ts";
import { PanicMarker, leadingLiteral } from "../../operator/receiver/detector/marker.ts";
import { OverloadMonitor, Triage, extendedLevel } from "../../operator/receiver/shedding.ts";
import { testIngest } from "../harness/ingest.ts";

const shed = async (metrics: ReturnType<typeof testIngest>["metrics"]) =>
  (await metrics.drops.get()).values.find((v) => v.labels.reason === "shed_overload")?.value ?? 0;

describe("shedding under overload", () => {
  it("reads the level of an extended record, with or without the release first; none for plain text", () => {
    const [crit] = encodeExtended(["<2>[ 1.0] BUG: x"], { extended: true });
    const [info] = encodeExtended(["<6>[ 1.0] eth0 up"], { extended: true, release: "6.1.0-50-amd64" });
    const [panic] = encodeExtended(["[ 1.0] Kernel panic - not syncing: x"], { extended: true, release: "6.12.9" });
    assert.equal(extendedLevel(crit!), 2);
    assert.equal(extendedLevel(info!), 6);
    assert.equal(extendedLevel(panic!), 0);
    assert.equal(extendedLevel(encodePlain(["[ 1.000000] eth0: up, 25Gbps, 1,2"])[0]!), undefined);
  });

  it("finds the default panic pattern's literal, and falls back for patterns that have none", () => {
    assert.equal(leadingLiteral(loadPatterns().panic[0]!), "Kernel panic - not syncing:");
    assert.equal(leadingLiteral(/^(?:Kernel|kernel) panic/), undefined);
    assert.equal(leadingLiteral(/^Kernel panic|oops/), undefined);
    assert.equal(leadingLiteral(/^Kernel panics?/), "Kernel panic");
    assert.equal(leadingLiteral(/^Kernel pänic: /), undefined, "not as the datagram carries it");
    const custom = new Triage(new PanicMarker(parsePatterns('panic: ["^(?:PANIC|Kernel panic) (?<reason>.*)"]')));
    assert.ok(custom.mayMatter(encodePlain(["[ 1.0] PANIC now"])[0]!), "matched by the full pattern");
    assert.ok(!custom.mayMatter(encodePlain(["[ 1.0] eth0 up"])[0]!));
  });

  it("a shedding Ingest drops chatter (counted) and still detects the panic with the context that follows", async () => {
    const { ingest, metrics, reports } = testIngest();
    ingest.shedding = true;
    const chatter = encodePlain(Array.from({ length: 50 }, (_, i) => `[ 1.${i}] eth0: link is up ${i}`));
    for (const d of chatter) ingest.datagram("10.0.0.1", d, 0);
    assert.equal(await shed(metrics), 50);
    const after = ["[ 2.1] CPU: 0 PID: 1 Comm: init", "[ 2.2] Call Trace:", "[ 2.3]  dump_stack+0x10/0x20"];
    for (const d of encodePlain(["[ 2.0] Kernel panic - not syncing: Attempted to kill init!", ...after]))
      ingest.datagram("10.0.0.1", d, 10);
    assert.equal(await shed(metrics), 50, "nothing of the panic was shed");
    ingest.tick(1000);
    assert.equal(reports.length, 1);
    assert.equal(reports[0]!.reason, "Attempted to kill init!");
    assert.deepEqual(
      reports[0]!.contextLines.slice(-3),
      after.map((l) => l.slice(7)),
    );
  });

  it("keeps severe extended records (the oops header before the panic) so the cause is still named", () => {
    const { ingest, reports } = testIngest();
    ingest.shedding = true;
    const lines = [
      "<6>[ 1.0] chatter",
      "<1>[ 1.1] BUG: kernel NULL pointer dereference, address: 0",
      "<4>[ 1.2] RIP: x",
    ];
    for (const d of encodeExtended([...lines, "[ 1.3] Kernel panic - not syncing: Fatal exception"], {
      extended: true,
    }))
      ingest.datagram("10.0.0.2", d, 0);
    ingest.tick(1000);
    assert.equal(reports.length, 1);
    assert.equal(reports[0]!.cause, "BUG: kernel NULL pointer dereference, address: 0");
  });

  it("the monitor sheds after two busy windows and stops once the loop is idle again", async () => {
    const monitor = new OverloadMonitor();
    // Busy for a whole turn of the event loop (utilization is accounted at its turns), then measured.
    const busyTurn = async (ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until);
      await new Promise(setImmediate);
    };
    await busyTurn(110);
    assert.equal(monitor.tick(), false, "one busy window is not overload");
    await busyTurn(20);
    assert.equal(monitor.tick(), false, "judged only once a window has passed");
    await busyTurn(100);
    assert.equal(monitor.tick(), true);
    await delay(110);
    assert.equal(monitor.tick(), false);
  });
});
