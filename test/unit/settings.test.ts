import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { receiverSettings } from "../../operator/config/receiver.ts";
import { ConfigError, boolean, envOf, flagOf, resolveSettings } from "../../operator/config/settings.ts";

describe("settings", () => {
  it("derives one flag and one LASTGASP_ variable from each name", () => {
    assert.equal(flagOf("allowedSourceCidrs"), "--allowed-source-cidrs");
    assert.equal(envOf("allowedSourceCidrs"), "LASTGASP_ALLOWED_SOURCE_CIDRS");
  });

  it("takes flags over environment over defaults", () => {
    const { values } = resolveSettings(receiverSettings, ["--context-lines", "30", "--listen=127.0.0.1:7000"], {
      LASTGASP_CONTEXT_LINES: "40",
      LASTGASP_MAX_SOURCES: "77",
      LASTGASP_ALLOWED_SOURCE_CIDRS: "",
    });
    assert.equal(values.contextLines, 30);
    assert.deepEqual(values.listen, ["127.0.0.1:7000"]);
    assert.equal(values.maxSources, 77);
    assert.deepEqual(values.allowedSourceCidrs, [], "an empty variable is unset");
    assert.equal(values.contextQuietMs, 200);
  });

  it("reports every problem at once, naming where each value came from", () => {
    assert.throws(
      () =>
        resolveSettings(
          receiverSettings,
          ["--context-lines", "0", "--listen", "nowhere", "--no-such-flag", "1", "--log-level"],
          { LASTGASP_MAX_SOURCES: "lots" },
        ),
      (err: ConfigError) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.problems, [
          "--log-level needs a value",
          "unknown option --no-such-flag",
          '--listen: invalid address "nowhere" (expected host:port, e.g. 0.0.0.0:6666 or [::]:6666)',
          "--context-lines: expected a number from 1 to 100, got 0",
          'LASTGASP_MAX_SOURCES: expected a whole number, got "lots"',
        ]);
        return true;
      },
    );
  });

  it("reads a bare boolean flag as true without swallowing the next argument, and joins a repeatable flag", () => {
    const settings = {
      verbose: { name: "verbose", description: "", default: false, parse: boolean },
      tag: { name: "tag", description: "", default: [] as string[], parse: (raw: string) => [raw], repeatable: true },
      level: { name: "level", description: "", default: "a", parse: (raw: string) => raw },
    };
    const bare = resolveSettings(settings, ["--verbose", "--tag", "x", "file.log", "--tag=y"], {});
    assert.deepEqual(bare.values, { verbose: true, tag: ["x", "y"], level: "a" });
    assert.deepEqual(bare.positionals, ["file.log"]);
    assert.equal(resolveSettings(settings, ["--verbose", "false"], {}).values.verbose, false);
    assert.equal(resolveSettings(settings, ["--verbose", "file.log"], {}).positionals[0], "file.log");
    // A setting given twice that is not repeatable: the last one wins, as before.
    assert.equal(resolveSettings(settings, ["--level", "b", "--level", "c"], {}).values.level, "c");
    assert.deepEqual(resolveSettings(settings, [], { LASTGASP_TAG: "z" }).values.tag, ["z"]);
  });
});
