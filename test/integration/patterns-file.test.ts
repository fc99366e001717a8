// `--patterns-file` replaces the detection patterns: the receiver records a panic only its custom pattern
// recognises, and refuses to start, naming the file and the fault, on a patterns file it cannot use.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { encodePlain } from "../../operator/netconsole/encode.ts";
import { sendDatagrams } from "../../operator/sender/send.ts";
import { adminKubeConfig } from "../harness/cluster.ts";
import { NO_NODES, eventsFor, startTestReceiver } from "../harness/receiver.ts";

const kc = adminKubeConfig();

describe("--patterns-file", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "lastgasp-patterns-"));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("replaces the default patterns: a custom panic line is recorded, with its reason", async () => {
    const file = join(dir, "patterns.yaml");
    writeFileSync(file, 'panic:\n  - "^FIRMWARE HALT: (?<reason>.*)$"\npanicEnd: []\ncause:\n  - "^MCE: "\n');
    const { receiver, target } = await startTestReceiver(kc, ["--patterns-file", file, ...NO_NODES]);
    try {
      const lines = ["[ 5.0] MCE: bank 4 uncorrected", "[ 5.1] FIRMWARE HALT: thermal trip", "[ 5.2] CPU: 3"];
      await sendDatagrams(encodePlain(lines), { to: target, from: "127.0.0.161" });
      const [event] = await eventsFor(kc, "127.0.0.161");
      assert.equal(event!.spec.reason, "thermal trip");
      assert.equal(event!.spec.cause, "MCE: bank 4 uncorrected");
      // The default pattern is gone with the file's replacement.
      await sendDatagrams(encodePlain(["[ 6.0] Kernel panic - not syncing: not ours"]), {
        to: target,
        from: "127.0.0.162",
      });
      await assert.rejects(eventsFor(kc, "127.0.0.162", 1, 2_000), /timed out/);
    } finally {
      await receiver.stop();
    }
  });

  it("a file it cannot use stops the start, naming the file and why", async () => {
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, 'panic:\n  - "^Kernel panic (no reason group)$"\n');
    await assert.rejects(startTestReceiver(kc, ["--patterns-file", bad, ...NO_NODES]), (err: Error) => {
      assert.match(err.message, new RegExp(bad.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")));
      assert.match(err.message, /reason/);
      return true;
    });
    await assert.rejects(
      startTestReceiver(kc, ["--patterns-file", join(dir, "missing.yaml"), ...NO_NODES]),
      /cannot read detection patterns/,
    );
  });
});
