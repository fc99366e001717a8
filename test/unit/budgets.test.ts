// The receiver's budgets against junk: panics only from Node addresses, a per-source event budget that defers
// instead of dropping, a byte budget over all per-source state, a line cap per datagram, limits per IPv6 /64.
// And a fuzzer whose inputs reach the parsers (no NUL bytes: those are refused before any parsing).
import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { describe, it } from "node:test";
import type { NodeIdentity } from "../../operator/kube/reader.ts";
import { createLogger } from "../../operator/log.ts";
import { limitKey } from "../../operator/net/addresses.ts";
import { PanicGate, type PanicGateOptions } from "../../operator/receiver/main/gate.ts";
import type { PanicReport } from "../../operator/receiver/ingest-messages.ts";
import { ReceiverMetrics } from "../../operator/receiver/metrics.ts";
import { testIngest } from "../harness/ingest.ts";
import { ManualClock } from "../harness/clock.ts";

const log = createLogger("silent", "test");

function report(hostIP: string, firstLine = "Kernel panic - not syncing: x"): PanicReport {
  return { hostIP, firstLine, reason: "x", contextLines: [firstLine], frames: [], detectedAtMs: 0, userdata: {} };
}

async function drops(metrics: ReceiverMetrics, reason: string): Promise<number> {
  return (await metrics.drops.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

/** Node addresses as the reader lists them: a Set's addresses are Nodes named after them, with no boot id. */
function identities(nodes: Set<string> | Map<string, NodeIdentity>): Map<string, NodeIdentity> {
  return nodes instanceof Map ? nodes : new Map([...nodes].map((a) => [a, { node: a, bootID: "" }]));
}

function gate(
  nodes: Set<string> | Map<string, NodeIdentity> | Error,
  overrides: Partial<PanicGateOptions> = {},
  watched?: { current(): ReadonlyMap<string, NodeIdentity> | undefined },
) {
  const passed: PanicReport[] = [];
  const metrics = new ReceiverMetrics();
  let lists = 0;
  const g = new PanicGate(
    {
      nodeSourcesOnly: true,
      refreshMs: 30_000,
      minRefreshMs: 2000,
      maxUnverified: 4,
      budget: { perWindow: 3, windowMs: 60_000, maxSources: 100 },
      ...overrides,
    },
    {
      nodes: {
        listNodeAddresses: () => {
          lists++;
          return nodes instanceof Error ? Promise.reject(nodes) : Promise.resolve(identities(nodes));
        },
      },
      ...(watched === undefined ? {} : { watched }),
      recorder: { record: (r) => passed.push(r) },
      metrics,
      log,
      clock: new ManualClock(),
    },
  );
  return { g, passed, metrics, lists: () => lists };
}

describe("limitKey", () => {
  it("keys IPv4 by address and IPv6 by its /64, whatever the spelling", () => {
    assert.equal(limitKey("10.0.0.1"), "10.0.0.1");
    assert.equal(limitKey("fd00:1:2:3::1"), "fd00:1:2:3::/64");
    assert.equal(limitKey("fd00:1:2:3:ffff:1:2:3"), "fd00:1:2:3::/64");
    assert.equal(limitKey("FD00:0001:0002:0003:0:0:0:9"), "fd00:1:2:3::/64");
    assert.equal(limitKey("fd00::5"), "fd00:0:0:0::/64");
    assert.equal(limitKey("::1"), "0:0:0:0::/64");
  });
});

describe("PanicGate", () => {
  it("passes panics from Node addresses and drops, after a refresh, those from no Node's", async () => {
    const { g, passed, metrics, lists } = gate(new Set(["10.0.0.1"]));
    g.tick(0);
    await g.settled();
    g.offer(report("10.0.0.1"), 10);
    g.offer(report("192.0.2.66"), 2000);
    assert.equal(g.deferred, 1, "held for a refresh");
    await g.settled();
    assert.deepEqual(
      passed.map((r) => r.hostIP),
      ["10.0.0.1"],
    );
    assert.equal(await drops(metrics, "unknown_source"), 1);
    assert.equal(lists(), 2, "an urgent refresh for the unknown address");
  });

  it("recognises a node that joined since the last refresh", async () => {
    const nodes = new Set(["10.0.0.1"]);
    const { g, passed } = gate(nodes);
    g.tick(0);
    await g.settled();
    nodes.add("10.0.0.2");
    g.offer(report("10.0.0.2"), 5000);
    await g.settled();
    assert.deepEqual(
      passed.map((r) => r.hostIP),
      ["10.0.0.2"],
    );
  });

  it("lets everything through until node addresses were listed once (no API server yet)", async () => {
    const { g, passed } = gate(new Error("connection refused"));
    g.tick(0);
    await g.settled();
    g.offer(report("10.0.0.9"), 10);
    assert.equal(passed.length, 1);
  });

  it("holds a bounded number of unverified panics", async () => {
    const { g, metrics } = gate(new Set(["10.0.0.1"]));
    g.tick(0);
    await g.settled();
    for (let i = 0; i < 10; i++) g.offer(report(`192.0.2.${i}`), 100);
    assert.equal(g.deferred, 4);
    assert.equal(await drops(metrics, "unknown_source"), 6);
  });

  it("defers a source's panics beyond its budget, keeping the newest, and records it when the window allows", async () => {
    const { g, passed, metrics } = gate(new Set(["10.0.0.1", "10.0.0.2"]));
    g.tick(0);
    await g.settled();
    for (let i = 0; i < 10; i++) g.offer(report("10.0.0.1", `Kernel panic - not syncing: ${i}`), 1000 + i);
    g.offer(report("10.0.0.2"), 1100);
    assert.deepEqual(
      passed.map((r) => r.firstLine.slice(-1)),
      ["0", "1", "2", "x"],
      "three from the flooding source, and the other node's at once",
    );
    assert.equal(g.deferred, 1);
    assert.equal(await drops(metrics, "event_budget"), 6, "replaced while waiting: counted");
    g.tick(30_000);
    assert.equal(passed.length, 4, "the window has not moved yet");
    g.tick(61_000);
    assert.equal(passed.at(-1)?.firstLine, "Kernel panic - not syncing: 9", "the newest waited and is recorded");
  });

  it("counts an IPv6 /64 as one source for the budget", () => {
    const { g, passed } = gate(new Set(), { nodeSourcesOnly: false });
    for (let i = 1; i <= 10; i++) g.offer(report(`fd00:1:2:3::${i.toString(16)}`), i);
    assert.equal(passed.length, 3);
  });

  it("gives each Node address its own budget, even when Nodes share a /64 (the /64 is for unknown sources)", async () => {
    const { g, passed } = gate(new Set(["fd00:1::17", "fd00:1::18", "fd00:1::19"]), {
      budget: { perWindow: 1, windowMs: 60_000, maxSources: 100 },
    });
    g.tick(0);
    await g.settled();
    for (const forged of ["fd00:1::17", "fd00:1::17", "fd00:1::17", "fd00:1::19"]) g.offer(report(forged), 10);
    g.offer(report("fd00:1::18", "Kernel panic - not syncing: real"), 20);
    assert.equal(passed.at(-1)?.firstLine, "Kernel panic - not syncing: real");
  });

  it("budget burn: a panic that continued its Node's own stream is recorded at once, whatever forgeries spent", async () => {
    const BOOT = "11111111-2222-4333-8444-555555555555";
    const nodes = new Map([["10.0.0.1", { node: "worker-1", bootID: BOOT }]]);
    const { g, passed, metrics } = gate(nodes, { budget: { perWindow: 1, windowMs: 3_600_000, maxSources: 100 } });
    g.tick(0);
    await g.settled();
    const anchor = { node: "worker-1", bootId: BOOT };
    const continued = (bootId: string): PanicReport => ({
      ...report("10.0.0.1", `Kernel panic - not syncing: ${bootId === BOOT ? "real" : "forged"}`),
      continuity: {
        kind: "continuous",
        anchor: { ...anchor, bootId },
        previousSequence: 1,
        sinceHeardMs: 1,
        driftMs: 0,
        position: { seq: 2, tsUsec: 1, atMs: 1 },
      },
    });
    // Three forgeries spend the budget and hold the slot; one continues a stream anchored with a made-up boot id.
    for (let i = 0; i < 3; i++) g.offer(report("10.0.0.1", `Kernel panic - not syncing: forged ${i}`), 10 + i);
    g.offer(continued("99999999-2222-4333-8444-555555555555"), 15);
    g.offer(continued(BOOT), 20);
    g.offer(report("10.0.0.1", "Kernel panic - not syncing: forged after"), 30);
    assert.ok(
      passed.some((r) => r.firstLine.endsWith(": real")),
      "the real panic passed at once",
    );
    g.drain();
    assert.equal(passed.filter((r) => r.firstLine.endsWith(": real")).length, 1);
    assert.ok((await drops(metrics, "event_budget")) >= 2, "the forgeries replaced one another, not the real one");
  });

  it("passes what is still waiting at shutdown instead of losing it", () => {
    const { g, passed } = gate(new Set(), { nodeSourcesOnly: false });
    for (let i = 0; i < 5; i++) g.offer(report("10.0.0.1", `Kernel panic - not syncing: ${i}`), i);
    g.drain();
    assert.equal(passed.at(-1)?.firstLine, "Kernel panic - not syncing: 4");
  });
});

describe("PanicGate with a Node watch", () => {
  /** A watch whose addresses the test sets; `open` false is a watch not (or no longer) open. */
  function watch(addresses: Set<string>) {
    const state = { open: true, addresses };
    return { state, current: () => (state.open ? identities(state.addresses) : undefined) };
  }

  it("passes a panic from an address the watch knows, with no LIST", async () => {
    const w = watch(new Set(["10.0.0.1"]));
    const { g, passed, lists } = gate(new Set(), {}, w);
    g.tick(0);
    g.offer(report("10.0.0.1"), 10);
    await g.settled();
    assert.deepEqual(
      passed.map((r) => r.hostIP),
      ["10.0.0.1"],
    );
    assert.equal(lists(), 0);
  });

  it("passes a panic from a node the watch learns of moments later, at the next tick, with no LIST", () => {
    const w = watch(new Set(["10.0.0.1"]));
    const { g, passed, lists } = gate(new Set(), {}, w);
    g.tick(0);
    g.offer(report("10.0.0.2"), 10);
    assert.equal(g.deferred, 1, "held: no Node has the address yet");
    w.state.addresses.add("10.0.0.2");
    g.tick(30);
    assert.deepEqual(
      passed.map((r) => r.hostIP),
      ["10.0.0.2"],
    );
    assert.equal(lists(), 0);
  });

  it("drops a panic from no Node's address once it has waited minRefreshMs, with no LIST", async () => {
    const w = watch(new Set(["10.0.0.1"]));
    const { g, passed, metrics, lists } = gate(new Set(), {}, w);
    g.tick(0);
    g.offer(report("192.0.2.66"), 10);
    g.tick(1000);
    assert.equal(g.deferred, 1, "still waiting for the watch");
    g.tick(2010);
    assert.equal(g.deferred, 0);
    assert.deepEqual(passed, []);
    assert.equal(await drops(metrics, "unknown_source"), 1);
    assert.equal(lists(), 0);
  });

  it("when the watch goes down, still knows what it knew (no address passes unverified) and lists again", async () => {
    const w = watch(new Set(["10.0.0.1"]));
    const { g, passed, lists } = gate(new Set(["10.0.0.1", "10.0.0.3"]), {}, w);
    g.tick(0);
    w.state.open = false;
    g.offer(report("192.0.2.66"), 10);
    assert.equal(g.deferred, 1, "an unknown address is held, not passed, while the watch is down");
    g.offer(report("10.0.0.1"), 20);
    assert.deepEqual(
      passed.map((r) => r.hostIP),
      ["10.0.0.1"],
    );
    await g.settled();
    assert.equal(lists(), 1, "the gate listed the addresses itself");
    assert.equal(g.deferred, 0, "the list settled the held panic");
    assert.deepEqual(
      passed.map((r) => r.hostIP),
      ["10.0.0.1"],
    );
  });
});

describe("Ingest byte budget", () => {
  it("keeps all per-source state under maxBufferedBytes, retiring the least recently heard", async () => {
    const max = 2 * 1024 * 1024;
    const { ingest, metrics, reports } = testIngest({ maxSources: 10_000, maxBufferedBytes: max });
    ingest.datagram("10.200.0.1", Buffer.from("[ 1.000000] Kernel panic - not syncing: real\n"), 0);
    // Lines of two-byte characters: each source's ring of recent lines is ~40 KiB.
    const line = Buffer.from(`${"é".repeat(490)}\n`);
    for (let s = 0; s < 2000; s++) for (let l = 0; l < 21; l++) ingest.datagram(`10.1.${s >> 8}.${s & 255}`, line, 1);
    assert.ok(ingest.bufferedBytes <= max, `charged ${ingest.bufferedBytes} bytes`);
    assert.ok((await drops(metrics, "memory")) > 1000);
    assert.deepEqual(
      reports.map((r) => r.reason),
      ["real"],
      "the retired source's pending panic was reported, not lost",
    );
  });

  it("takes at most 64 lines from one datagram, counting the rest", async () => {
    const { ingest, metrics } = testIngest();
    ingest.datagram("10.0.0.1", Buffer.from("\n".repeat(1000)), 0);
    assert.equal(await drops(metrics, "parse_error"), 1);
    assert.equal((await metrics.parseErrors.get()).values.find((v) => v.labels.kind === "too_many_lines")?.value, 1);
  });
});

/** An extended header, well-formed or nearly: the parser must take the first and refuse the rest as plain text. */
function fuzzHeader(): string {
  const fields = [
    ...(randomInt(3) === 0 ? ["6.12.0-amd64"] : []),
    String(randomInt(0, 200)),
    String(randomInt(0, 1e6)),
    String(randomInt(0, 1e9)),
    ["-", "c", "+", "x"][randomInt(4)]!,
    ...(randomInt(3) === 0 ? [`caller=T${randomInt(0, 99)}`] : []),
    ...(randomInt(2) === 0 ? [`ncfrag=${randomInt(0, 3000)}/${randomInt(0, 9000)}`] : []),
  ];
  return `${fields.join(",")};`;
}

/** Text that looks like netconsole: timestamps, escapes, panic lines, dictionaries, UTF-8, a few controls. */
function fuzzBody(): string {
  const pieces = [
    () => "\n",
    () => `[ ${randomInt(0, 99999)}.${randomInt(0, 999999)}] `,
    () => "Kernel panic - not syncing: ",
    () => "---[ end Kernel panic - not syncing: x ]---",
    () => "BUG: kernel NULL pointer dereference",
    () => "\\x0a\\x41",
    () => " SUBSYSTEM=pci\n DEVICE=+pci:0000:00:1f.2",
    () => "é中𝄞 words ",
    () => (randomInt(10) === 0 ? String.fromCharCode(randomInt(1, 32)) : " "),
    () => "node=w1\nrelease=6.1\n",
  ];
  let text = "";
  const length = randomInt(1, 1100);
  while (text.length < length) text += pieces[randomInt(pieces.length)]!();
  return text;
}

function fuzzDatagram(): Buffer {
  return Buffer.from((randomInt(2) === 0 ? fuzzHeader() : "") + fuzzBody());
}

describe("fuzzing the ingest path with netconsole-shaped text", () => {
  it("never throws, stays within its bounds, and reaches every parser", async () => {
    const { ingest, metrics, reports } = testIngest({ maxSources: 50, maxBufferedBytes: 4 * 1024 * 1024 });
    let withNul = 0;
    for (let i = 0; i < 20_000; i++) {
      const datagram = fuzzDatagram();
      if (datagram.includes(0)) withNul++;
      ingest.datagram(`10.0.0.${i % 50}`, datagram, i);
      if (i % 100 === 0) ingest.tick(i);
    }
    ingest.tick(1e9);
    assert.equal(withNul, 0, "no datagram is refused as binary before parsing");
    assert.ok(ingest.bufferedBytes <= 4 * 1024 * 1024);
    const kinds = new Set((await metrics.parseErrors.get()).values.map((v) => v.labels.kind));
    assert.ok(kinds.has("fragment_inconsistent") || kinds.has("fragment_too_large"), [...kinds].join());
    assert.ok(kinds.has("oversized"), "datagrams over 1000 bytes reached the size check");
    assert.ok(reports.length > 0, "panic lines were detected in fuzzed text");
    assert.ok(
      reports.some((r) => r.sequence !== undefined),
      "some came through the extended header parser",
    );
    assert.ok(
      reports.some((r) => r.sequence === undefined && r.uptimeMicros !== undefined),
      "some through plain lines with timestamps",
    );
  });
});
