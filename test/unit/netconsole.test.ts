// Byte-exact netconsole datagrams, as drivers/net/netconsole.c sends them, through one source's stream.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NetconsoleStream } from "../../operator/netconsole/stream.ts";
import { parsePlainLine } from "../../operator/netconsole/plain.ts";

const limits = { maxLineLength: 1024, maxRecordBytes: 8192, maxInFlight: 4, timeoutMs: 200 };
const bytes = (s: string) => Buffer.from(s, "latin1");

function decodeAll(...datagrams: (string | Buffer)[]) {
  const stream = new NetconsoleStream(limits);
  const records = datagrams.flatMap((d) => stream.decode(typeof d === "string" ? bytes(d) : d, 0).records);
  return { stream, records };
}

describe("plain console prefixes", () => {
  const cases: [string, { text: string; prio?: number; tsUsec?: number; caller?: string }][] = [
    ["Kernel panic - not syncing: Fatal exception", { text: "Kernel panic - not syncing: Fatal exception" }],
    [
      "[ 3742.283995] Kernel panic - not syncing: Fatal exception",
      { text: "Kernel panic - not syncing: Fatal exception", tsUsec: 3742283995 },
    ],
    [
      "<0>[ 3742.283995] Kernel panic - not syncing: x",
      { text: "Kernel panic - not syncing: x", prio: 0, tsUsec: 3742283995 },
    ],
    [
      "[  560.714556][T27130] Kernel panic - not syncing: y",
      { text: "Kernel panic - not syncing: y", tsUsec: 560714556, caller: "T27130" },
    ],
    [
      "[  560.714556][    C1] Kernel panic - not syncing: z",
      { text: "Kernel panic - not syncing: z", tsUsec: 560714556, caller: "C1" },
    ],
    ["<4>plain warning", { text: "plain warning", prio: 4 }],
    ["[    0.000000] Linux version 6.9.7", { text: "Linux version 6.9.7", tsUsec: 0 }],
  ];
  for (const [line, expected] of cases) {
    it(`parses ${JSON.stringify(line)}`, () => {
      assert.deepEqual({ ...parsePlainLine(line) }, expected);
    });
  }
});

describe("plain mode on the wire", () => {
  it("splits one datagram holding several lines", () => {
    const { records } = decodeAll("[ 1.000000] one\n[ 2.000000] two\n");
    assert.deepEqual(
      records.map((r) => [r.text, r.tsUsec, r.extended]),
      [
        ["one", 1000000, false],
        ["two", 2000000, false],
      ],
    );
  });

  it("joins a line spanning datagrams and holds an unterminated line until it ends", () => {
    const { stream, records } = decodeAll(
      "[ 5.000000] Kernel pa",
      "nic - not syncing: Fat",
      "al exception\n[ 5.100000] tail",
    );
    assert.deepEqual(
      records.map((r) => r.text),
      ["Kernel panic - not syncing: Fatal exception"],
    );
    assert.equal(stream.bufferedBytes, 2 * "[ 5.100000] tail".length, "two bytes a character at worst");
    assert.deepEqual(
      stream.flush(1000, true).records.map((r) => r.tsUsec),
      [5100000],
    );
  });

  it("reassembles a record longer than 1000 bytes sent as raw slices without markers", () => {
    const long = `[ 7.000000] ${"x".repeat(1500)}\n`;
    const stream = new NetconsoleStream({ ...limits, maxLineLength: 4096 });
    const records = [bytes(long).subarray(0, 1000), bytes(long).subarray(1000)].flatMap(
      (d) => stream.decode(d, 0).records,
    );
    assert.equal(records.length, 1);
    assert.equal(records[0]!.text, "x".repeat(1500));
    assert.equal(records[0]!.tsUsec, 7000000);
  });

  it("cuts a line over the length limit, marking the pieces truncated, and holds no more than the limit", () => {
    const stream = new NetconsoleStream({ ...limits, maxLineLength: 100 });
    const records = [...stream.decode(bytes("a".repeat(250)), 0).records, ...stream.decode(bytes("b\n"), 0).records];
    assert.deepEqual(
      records.map((r) => [r.text.length, r.truncated]),
      [
        [100, true],
        [100, true],
        [51, true],
      ],
    );
    assert.equal(stream.bufferedBytes, 0);
  });

  it("keeps a UTF-8 character split between two datagrams", () => {
    const line = Buffer.from("[ 1.000000] déjà vu\n", "utf8");
    const cut = line.indexOf(0xc3) + 1;
    const { records } = decodeAll(line.subarray(0, cut), line.subarray(cut));
    assert.equal(records[0]!.text, "déjà vu");
  });

  it("a lone UTF-8 lead byte (spoofed) before a timestamped line does not reach into it", () => {
    const { records, stream } = decodeAll(Buffer.from([0xe2]), "[ 9.000000] Kernel panic - not syncing: real\n");
    assert.deepEqual(
      records.map((r) => [r.text, r.tsUsec]),
      [["Kernel panic - not syncing: real", 9_000_000]],
    );
    assert.equal(stream.bufferedBytes, 0);
  });
});

describe("extended mode on the wire", () => {
  it("parses the printk header", () => {
    const { records } = decodeAll("0,5123,3742283995,-;Kernel panic - not syncing: Fatal exception in interrupt\n");
    assert.deepEqual(
      { ...records[0] },
      {
        text: "Kernel panic - not syncing: Fatal exception in interrupt",
        extended: true,
        prio: 0,
        seq: 5123,
        tsUsec: 3742283995,
      },
    );
  });

  it("parses the caller id and the prepended release", () => {
    const { records } = decodeAll(
      "6.9.7-200.fc40.x86_64,0,5123,3742283995,-,caller=T1;Kernel panic - not syncing: x\n",
    );
    assert.equal(records[0]!.release, "6.9.7-200.fc40.x86_64");
    assert.equal(records[0]!.caller, "T1");
    assert.equal(records[0]!.seq, 5123);
  });

  it("decodes \\xNN escapes, and the first real newline ends the text", () => {
    const { records } = decodeAll("4,9,10,-;tab\\x09and backslash \\x5c and \\xc3\\xa9\n SUBSYSTEM=pci\n");
    assert.equal(records[0]!.text, "tab\tand backslash \\ and é");
  });

  it("separates dictionary, userdata and sysdata lines", () => {
    const { records } = decodeAll(
      "0,5123,3742283995,-;Kernel panic - not syncing: x\n SUBSYSTEM=pci\n DEVICE=+pci:0000:00:01.0\n node=ip-10-0-1-23\n cluster=prod\n cpu=8\n taskname=swapper/8\n release=6.9.7\n",
    );
    assert.deepEqual(records[0]!.userdata, { node: "ip-10-0-1-23", cluster: "prod" });
    assert.equal(records[0]!.release, "6.9.7");
  });

  it("treats a datagram whose header does not parse as plain text", () => {
    for (const text of [
      "a;b\n",
      "0,1,2;missing flag\n",
      "999,1,2,-;prio out of range\n",
      "0,1,2,x;bad flag\n",
      "0,1,2,-,ncfrag=5/3;bad fragment\n",
    ]) {
      const { records } = decodeAll(text);
      assert.equal(records[0]!.extended, false, text);
      assert.equal(records[0]!.text, text.trimEnd(), text);
    }
  });
});

describe("fragments (ncfrag)", () => {
  const text = `Kernel panic - not syncing: ${"y".repeat(600)}`;
  const userdata = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`key${i}`, "v".repeat(50)]));
  const body = `${text}\n${Object.entries(userdata)
    .map(([k, v]) => ` ${k}=${v}\n`)
    .join("")}`;
  const total = Buffer.byteLength(body);
  const fragment = (offset: number, end: number, release = "") =>
    bytes(`${release}0,777,1234567,-,ncfrag=${offset}/${total};${body.slice(offset, end)}`);

  it("reassembles fragments, in any order and with repeats", () => {
    const { records } = decodeAll(fragment(900, total), fragment(0, 900), fragment(900, total));
    assert.equal(records.length, 1);
    assert.equal(records[0]!.text, text);
    assert.deepEqual(records[0]!.userdata, userdata);
    assert.equal(records[0]!.seq, 777);
  });

  it("keeps the prepended release of fragmented records", () => {
    const { records } = decodeAll(fragment(0, 900, "6.9.7,"), fragment(900, total, "6.9.7,"));
    assert.equal(records[0]!.release, "6.9.7");
  });

  it("refuses a record larger than the cap and inconsistent totals", () => {
    const stream = new NetconsoleStream({ ...limits, maxRecordBytes: 1000 });
    assert.equal(stream.decode(fragment(0, 900), 0).error, "fragment_too_large");
    const ok = new NetconsoleStream(limits);
    ok.decode(fragment(0, 900), 0);
    assert.equal(ok.decode(bytes(`0,777,1234567,-,ncfrag=900/${total + 5};zz`), 0).error, "fragment_inconsistent");
  });

  it("salvages a timed-out record whose text arrived whole, with its header (prio, seq)", () => {
    const stream = new NetconsoleStream(limits);
    stream.decode(fragment(0, 700), 0);
    assert.deepEqual(stream.flush(100, false).records, []);
    const salvaged = stream.flush(250, false);
    assert.equal(salvaged.records.length, 1);
    assert.equal(salvaged.records[0]!.prio, 0);
    assert.equal(salvaged.records[0]!.seq, 777);
    assert.equal(salvaged.records[0]!.text, text);
    assert.equal(stream.bufferedBytes, 0);
  });

  it("drops a timed-out record whose text did not arrive", () => {
    const stream = new NetconsoleStream(limits);
    stream.decode(fragment(900, total), 0);
    assert.deepEqual(stream.flush(250, false), { records: [], droppedFragments: 1 });
  });
});

describe("malformed datagrams", () => {
  it("counts empty, oversized and binary datagrams as errors and yields nothing", () => {
    const stream = new NetconsoleStream(limits);
    assert.deepEqual(stream.decode(Buffer.alloc(0), 0), { records: [], error: "empty" });
    assert.deepEqual(stream.decode(Buffer.alloc(1001, 0x41), 0), { records: [], error: "oversized" });
    assert.deepEqual(stream.decode(Buffer.from([0x41, 0x00, 0x42, 0x0a]), 0), { records: [], error: "binary" });
    assert.deepEqual(stream.decode(Buffer.from([1, 2, 3, 4, 0x41, 0x0a]), 0), { records: [], error: "binary" });
    assert.equal(stream.bufferedBytes, 0);
  });
});
