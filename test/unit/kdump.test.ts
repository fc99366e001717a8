// kdump's dmesg (operator/lastwords/kdump.ts) from real kernels: a Debian 6.1 and 6.12 guest in QEMU panicked
// (sysrq) with netconsole sending to the host; its memory was dumped with its VMCOREINFO and Debian's makedumpfile
// wrote the crashed kernel's log from it, as kdump-tools does (hack/capture-kdump-fixture.ts). Run through the
// receiver's detector, it gives the reason, cause, signature and panic timestamp netconsole's datagrams gave.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { isKdumpDmesg, readKdump } from "../../operator/lastwords/kdump.ts";
import { defaultPatternsFile, loadPatterns } from "../../operator/panics/detector/patterns.ts";
import { scanLog } from "../../operator/panics/scan.ts";
import { crashSignature } from "../../operator/panics/signature.ts";
import { testIngest } from "../harness/ingest.ts";

interface KdumpFixture {
  readonly kernel: { readonly release: string };
  readonly source: string;
  readonly datagrams: readonly { readonly offsetMs: number; readonly base64: string }[];
  readonly kdump: { readonly file: string; readonly base64: string };
}

const dir = new URL("../fixtures/real-kernels/kdump/", import.meta.url);
const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith(".json"))
  .map((name) => ({ name, fixture: JSON.parse(readFileSync(new URL(name, dir), "utf8")) as KdumpFixture }));
const detectorOptions = { contextLines: 20, quietMs: 0, deadlineMs: 0, duplicateWindowMs: 0 };

describe("kdump's dmesg files", () => {
  it("are vmcore-dmesg.txt and dmesg.<time>, nothing else of a crash directory", () => {
    for (const path of ["127.0.0.1-2026-12-07-01:02:03/vmcore-dmesg.txt", "202612070102/dmesg.202612070102"])
      assert.ok(isKdumpDmesg(path), path);
    for (const path of ["202612070102/dump.202612070102", "x/vmcore", "x/dmesg.txt", "x/kexec_cmd", "x/dmesg."])
      assert.ok(!isKdumpDmesg(path), path);
  });

  it("has a capture from each kernel", () => {
    const kernels = fixtures.map(({ fixture }) => fixture.kernel.release.slice(0, 4));
    assert.ok(kernels.includes("6.1."), "6.1");
    assert.ok(kernels.includes("6.12"), "6.12");
  });

  for (const { name, fixture } of fixtures) {
    it(`${name}: one panic, with netconsole's reason, cause, signature and timestamp`, () => {
      const [log] = readKdump([
        { path: `crash/${fixture.kdump.file}`, bytes: Buffer.from(fixture.kdump.base64, "base64") },
      ]);
      assert.ok(log !== undefined);
      const kept = scanLog(log.lines.join("\n"), loadPatterns(defaultPatternsFile), detectorOptions);
      assert.equal(kept.length, 1, "one panic in the log");
      const { ingest, reports } = testIngest();
      for (const d of fixture.datagrams)
        ingest.datagram(fixture.source, Buffer.from(d.base64, "base64"), 1_000_000 + d.offsetMs);
      ingest.tick(10_000_000);
      const [heard] = reports;
      assert.ok(heard !== undefined, "netconsole carried the panic");
      assert.equal(kept[0]!.reason, "sysrq triggered crash");
      assert.equal(kept[0]!.cause, "sysrq: Trigger a crash");
      assert.equal(kept[0]!.reason, heard.reason);
      assert.equal(kept[0]!.cause, heard.cause);
      assert.deepEqual(crashSignature(kept[0]!), crashSignature(heard));
      assert.equal(kept[0]!.uptimeMicros, heard.uptimeMicros);
    });
  }
});
