// Priority under overload: a shedding receive thread drops chatter and counts it, but never a panic line, the
// severe records before it, or the context of a panic it is collecting.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeExtended, encodePlain } from "../../operator/netconsole/encode.ts";
import { loadPatterns, parsePatterns } from "../../operator/panics/detector/patterns.ts";
import { PanicMarker, leadingLiteral } from "../../operator/panics/detector/marker.ts";
import {
  OverloadMonitor,
  SOCKET_FILL,
  ShedSwitch,
  SocketPressure,
  Triage,
  eventLoopBusyShare,
  extendedLevel,
} from "../../operator/receiver/thread/shedding.ts";
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

  it("the monitor sheds after two busy windows and stops once the loop is idle again", () => {
    const shares: number[] = [];
    const monitor = new OverloadMonitor(() => shares.shift() ?? assert.fail("read once per window"), 0);
    shares.push(0.99);
    assert.equal(monitor.tick(100), false, "one busy window is not overload");
    assert.equal(monitor.tick(150), false, "judged only once a window has passed");
    shares.push(0.5, 0.99);
    assert.equal(monitor.tick(200), false, "an idle window starts the count again");
    assert.equal(monitor.tick(300), false);
    shares.push(0.98);
    assert.equal(monitor.tick(400), true, "two busy windows in a row");
    shares.push(0.9);
    assert.equal(monitor.tick(500), true, "still mostly busy: keeps shedding");
    shares.push(0.8);
    assert.equal(monitor.tick(600), false, "idle enough again");
    assert.equal(shares.length, 0);
  });

  it("measures the event loop's busy share from Node's accounting", async () => {
    const busyShare = eventLoopBusyShare();
    const until = performance.now() + 50;
    while (performance.now() < until);
    await new Promise(setImmediate);
    const busy = busyShare();
    assert.ok(busy > 0.5 && busy <= 1, `busy share ${busy} after a turn spent busy`);
  });

  it("on the batched path sheds at the first reading of a half-full socket, and stops once it has drained", () => {
    const pressure = new SocketPressure();
    assert.equal(pressure.observe(0), false);
    assert.equal(pressure.observe(SOCKET_FILL.on - 0.01), false, "below the mark: keeps processing");
    assert.equal(pressure.observe(SOCKET_FILL.on), true, "one reading is enough: the socket must not fill");
    assert.equal(pressure.observe((SOCKET_FILL.on + SOCKET_FILL.off) / 2), true, "draining, not drained");
    assert.equal(pressure.observe(SOCKET_FILL.off), false);
  });

  it("applies every change at once, and logs a change at most every 10 s with how many there were", () => {
    const applied: boolean[] = [];
    const logged: [boolean, number][] = [];
    const shed = new ShedSwitch(
      (on) => applied.push(on),
      (on, changes) => logged.push([on, changes]),
    );
    shed.set(true, 0);
    shed.set(false, 1);
    shed.set(true, 2);
    shed.set(true, 5000);
    assert.deepEqual(applied, [true, false, true]);
    assert.deepEqual(logged, [[true, 1]], "the first change is logged; the flips after it wait");
    shed.set(false, 10_001);
    assert.deepEqual(logged, [
      [true, 1],
      [false, 3],
    ]);
    shed.set(false, 30_000);
    assert.equal(logged.length, 2, "nothing new to say");
  });
});
