// The receiver's spool (receiver/main/spool.ts): events unwritten at shutdown survive as files, the next receiver reads
// them back (at most its queue's worth), and a file that is not an event is set aside, never trusted.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { createLogger } from "../../operator/log.ts";
import { toKernelPanicEvent } from "../../operator/receiver/main/event.ts";
import { Spool } from "../../operator/receiver/main/spool.ts";

const log = createLogger("silent", "test");

function event(hostIP: string) {
  const line = "Kernel panic - not syncing: spooled";
  return toKernelPanicEvent(
    { hostIP, firstLine: line, reason: "spooled", contextLines: [line], frames: [], detectedAtMs: 0, userdata: {} },
    "test",
  );
}

describe("Spool", () => {
  it("keeps events across a restart, reads back at most maxFiles, sets junk aside, and forgets what was written", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lastgasp-spool-test-"));
    try {
      const events = ["10.0.0.1", "10.0.0.2", "10.0.0.3"].map(event);
      assert.equal(await new Spool(dir, 10, log).save(events), 3);
      writeFileSync(join(dir, "junk.json"), JSON.stringify({ kind: "Pod" }));
      const limited = await new Spool(dir, 2, log).load();
      assert.equal(limited.length, 2, "no more than the write queue holds");
      const spool = new Spool(dir, 10, log);
      const loaded = await spool.load();
      assert.deepEqual(loaded.map((e) => e.spec.hostIP).sort(), ["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
      assert.ok(readdirSync(dir).includes("junk.rejected"), "the junk file set aside");
      await spool.written(loaded[0]!.metadata.name);
      await spool.written("never-spooled");
      assert.equal(readdirSync(dir).filter((f) => f.endsWith(".json")).length, 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
