// pstore records (operator/lastwords/pstore.ts): how dumps are put together from their parts and what is skipped,
// then what real kernels left in ramoops at a panic (hack/capture-pstore-fixtures.ts: a Debian 6.1 and 6.12 guest
// in QEMU, its netconsole sending to the host, reset with its RAM kept), read back and run through the
// receiver's detector: the same reason, cause and signature as the netconsole datagrams of the same panic gave.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { readPstore } from "../../operator/lastwords/pstore.ts";
import { defaultPatternsFile, loadPatterns } from "../../operator/panics/detector/patterns.ts";
import { scanLog } from "../../operator/panics/scan.ts";
import { crashSignature } from "../../operator/panics/signature.ts";
import { testIngest } from "../harness/ingest.ts";

const file = (name: string, text: string) => ({ name, bytes: Buffer.from(text) });

describe("pstore dumps from their files", () => {
  it("joins a dump's parts in log order (Part1 holds the end) and keeps dumps apart", () => {
    const { dumps, skipped } = readPstore([
      file("dmesg-ramoops-0", "Panic#2 Part1\n<0>[    3.2] Kernel panic - not syncing: x\n<4>[    3.3] end\n"),
      file("dmesg-ramoops-1", "Panic#2 Part2\n<6>[    1.0] earlier\n<6>[    2.0] later\n"),
      file("dmesg-ramoops-2", "Oops#1 Part1\n<1>[    0.5] BUG: oops\n"),
      file("dmesg-efi-17300000001002", "Panic#2 Part1\n<0>[    3.2] Kernel panic - not syncing: x\n"),
    ]);
    assert.deepEqual(skipped, []);
    assert.deepEqual(
      dumps.map((d) => [d.backend, d.reason, d.dump, d.files]),
      [
        ["efi", "Panic", 2, ["dmesg-efi-17300000001002"]],
        ["ramoops", "Oops", 1, ["dmesg-ramoops-2"]],
        ["ramoops", "Panic", 2, ["dmesg-ramoops-0", "dmesg-ramoops-1"]],
      ],
    );
    assert.deepEqual(dumps[2]!.lines, [
      "<6>[    1.0] earlier",
      "<6>[    2.0] later",
      "<0>[    3.2] Kernel panic - not syncing: x",
      "<4>[    3.3] end",
    ]);
  });

  it("skips, naming why, what it cannot read: a record left compressed, one without a header, other kinds", () => {
    const { dumps, skipped } = readPstore([
      file("dmesg-ramoops-0.enc.z", "\x78\x9c garbage"),
      file("dmesg-ramoops-1", "<0>[ 3.2] Kernel panic - not syncing: x\n"),
      file("console-ramoops-0", "<6>[ 1.0] console\n"),
    ]);
    assert.deepEqual(dumps, []);
    assert.deepEqual(skipped, [
      { name: "dmesg-ramoops-0.enc.z", why: "compressed" },
      { name: "dmesg-ramoops-1", why: "no-header" },
      { name: "console-ramoops-0", why: "not-dmesg" },
    ]);
  });
});

interface PstoreFixture {
  readonly kernel: { readonly release: string };
  readonly source: string;
  readonly datagrams: readonly { readonly offsetMs: number; readonly base64: string }[];
  readonly pstore: readonly { readonly name: string; readonly base64: string }[];
}

const dir = new URL("../fixtures/real-kernels/pstore/", import.meta.url);
const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith(".json"))
  .map((name) => ({ name, fixture: JSON.parse(readFileSync(new URL(name, dir), "utf8")) as PstoreFixture }));
const detectorOptions = { contextLines: 20, quietMs: 0, deadlineMs: 0, duplicateWindowMs: 5000 };

describe("real kernels' pstore records: the panic as netconsole carried it", () => {
  it("has a capture from each kernel", () => {
    const kernels = fixtures.map(({ fixture }) => fixture.kernel.release.slice(0, 4));
    assert.ok(kernels.includes("6.1."), "6.1");
    assert.ok(kernels.includes("6.12"), "6.12");
  });

  for (const { name, fixture } of fixtures) {
    it(`${name}: one Panic dump; its detection has netconsole's reason, cause and signature`, () => {
      const { dumps, skipped } = readPstore(
        fixture.pstore.map((f) => ({ name: f.name, bytes: Buffer.from(f.base64, "base64") })),
      );
      assert.deepEqual(
        skipped.filter((s) => s.why !== "not-dmesg"),
        [],
      );
      const panics = dumps.filter((d) => d.reason === "Panic");
      assert.equal(panics.length, 1, `dumps: ${dumps.map((d) => `${d.reason}#${d.dump}`).join(", ")}`);
      const fromPstore = scanLog(panics[0]!.lines.join("\n"), loadPatterns(defaultPatternsFile), detectorOptions);
      assert.equal(fromPstore.length, 1, "one panic in the dump");

      const { ingest, reports } = testIngest();
      for (const d of fixture.datagrams)
        ingest.datagram(fixture.source, Buffer.from(d.base64, "base64"), 1_000_000 + d.offsetMs);
      ingest.tick(10_000_000);
      assert.ok(reports.length >= 1, "netconsole carried the panic");
      const [heard] = reports as [(typeof reports)[0]];
      const [kept] = fromPstore as [(typeof fromPstore)[0]];
      assert.equal(kept.reason, "sysrq triggered crash");
      assert.equal(kept.cause, "sysrq: Trigger a crash");
      assert.equal(kept.reason, heard.reason);
      assert.equal(kept.cause, heard.cause);
      assert.deepEqual(crashSignature(kept), crashSignature(heard));
      // The kernel's own timestamp of the panic line, to the microsecond, in both: how the reconciler knows a
      // recovered panic is one netconsole already recorded (reconciler/fleet/recovered-twin.ts).
      assert.equal(typeof kept.uptimeMicros, "number");
      assert.equal(kept.uptimeMicros, heard.uptimeMicros);
    });
  }
});
