// What real kernels sent: netconsole datagrams captured from Debian 6.1 and 6.12 kernels panicking in QEMU guests
// (hack/capture-kernel-fixtures.ts: sysrq, OOM, kill-init, a hung task, and an oops on 6.1), replayed byte for
// byte, at their captured pace, through the receiver's ingest path. Each must give exactly one panic with the
// exact reason, the cause the kernel printed, a context that starts at the report's header, and on 6.12 the
// release and userdata the kernel added.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { testIngest } from "../harness/ingest.ts";

interface Fixture {
  readonly kernel: { readonly release: string };
  readonly scenario: "sysrq" | "oom" | "kill-init" | "hung" | "oops";
  readonly netconsole: { readonly extended: boolean; readonly release: boolean };
  /** The guest's own address, as the host saw it. */
  readonly source: string;
  readonly datagrams: readonly { readonly offsetMs: number; readonly base64: string }[];
}

const dir = new URL("../fixtures/real-kernels/", import.meta.url);
const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith(".json"))
  .map((file) => ({ file, fixture: JSON.parse(readFileSync(new URL(file, dir), "utf8")) as Fixture }));

const expected = {
  sysrq: { reason: /^sysrq triggered crash$/, cause: /^sysrq: Trigger a crash$/ },
  oom: { reason: /^Out of memory: system-wide panic_on_oom is enabled$/, cause: /^tail invoked oom-killer: gfp_mask=/ },
  "kill-init": { reason: /^Attempted to kill init! exitcode=0x[0-9a-f]+$/, cause: undefined },
  hung: { reason: /^hung_task: blocked tasks$/, cause: /^INFO: task sh:\d+ blocked for more than 2 seconds\.$/ },
  oops: { reason: /^Fatal exception$/, cause: /^BUG: kernel NULL pointer dereference, address: 0+$/ },
} as const;

/** The text of the last datagram the kernel sent (its last console line). */
function lastLine(fixture: Fixture): string {
  const last = Buffer.from(fixture.datagrams.at(-1)!.base64, "base64").toString("latin1");
  return (
    last
      .split("\n")
      .find((l) => l.includes("Rebooting in"))
      ?.trim() ?? last
  );
}

describe("real kernel panics, replayed byte for byte", () => {
  it("has fixtures of both kernels, every scenario, both modes", () => {
    const kinds = new Set(fixtures.map(({ fixture: f }) => `${f.kernel.release.slice(0, 4)}/${f.scenario}`));
    for (const kernel of ["6.1.", "6.12"])
      for (const scenario of ["sysrq", "oom", "kill-init", "hung"])
        assert.ok(kinds.has(`${kernel}/${scenario}`), `${kernel} ${scenario}`);
    assert.ok(kinds.has("6.1./oops"), "6.1 oops");
    assert.ok(
      fixtures.some(({ fixture }) => !fixture.netconsole.extended),
      "a plain-mode capture",
    );
  });

  for (const { file, fixture } of fixtures) {
    it(`${file}: one panic, exact reason and cause, context from the report's header`, () => {
      const { ingest, reports } = testIngest();
      const start = 1_000_000;
      for (const d of fixture.datagrams)
        ingest.datagram(fixture.source, Buffer.from(d.base64, "base64"), start + d.offsetMs);
      // A rebooting kernel's last line completes the event at once: no waiting out the quiet period.
      assert.match(lastLine(fixture), /Rebooting in \d+ seconds\.\.$/);
      assert.equal(reports.length, 1, "complete at the kernel's last line, before any quiet period");
      ingest.tick(start + 60_000);
      assert.equal(reports.length, 1, `reports: ${reports.map((r) => r.firstLine).join(" | ")}`);
      const [report] = reports as [(typeof reports)[0]];
      const want = expected[fixture.scenario];
      assert.match(report.reason, want.reason);
      if (want.cause === undefined) assert.equal(report.cause, undefined);
      else {
        assert.match(report.cause ?? "", want.cause);
        assert.equal(report.contextLines[0], report.cause, "the context starts at the report's header");
      }
      assert.ok(report.contextLines.includes(report.firstLine));
      assert.ok(report.contextLines.length <= 20);
      if (fixture.netconsole.extended) {
        // 6.1 has neither `release` (6.5+) nor userdata (6.9+); the capture asked for both everywhere.
        const modern = fixture.kernel.release.startsWith("6.12");
        assert.equal(typeof report.sequence, "number");
        assert.equal(report.release, modern ? fixture.kernel.release : undefined);
        assert.deepEqual(report.userdata, modern ? { node: "vm1" } : {});
      } else {
        assert.equal(report.sequence, undefined);
        assert.equal(typeof report.uptimeMicros, "number", "the console timestamp of the plain line");
      }
    });
  }
});
