// Logs that collectors read right: one JSON object per line, every level on stdout (the level is a field), an
// Error given as `err` written whole (type, message, stack, code and the chain of causes), and a child logger's
// fields (a reconcile's ID and event name) on each of its lines.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, it } from "node:test";
import { createLogger } from "../../operator/log.ts";

/** A logger whose lines the test reads back as objects. */
function captured(format: "json" | "ecs" = "json") {
  const stream = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  stream.on("data", (chunk: Buffer) => {
    for (const line of chunk
      .toString()
      .split("\n")
      .filter((l) => l !== ""))
      lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  return { log: createLogger("debug", "test", { stream, format }), lines };
}

const flushed = () => new Promise((resolve) => setImmediate(resolve));

describe("logs", () => {
  it("an error line carries the error's type, stack, code and causes", async () => {
    const { log, lines } = captured();
    const root = Object.assign(new Error("connect ECONNREFUSED 10.0.0.1:443"), { code: "ECONNREFUSED" });
    log.error("Could not list node addresses", { err: new TypeError("list failed", { cause: root }) });
    await flushed();
    const err = lines[0]!.err as { type: string; message: string; stack: string; cause: Record<string, unknown> };
    assert.equal(lines[0]!.level, "error");
    assert.equal(lines[0]!.component, "test");
    assert.equal(err.type, "TypeError");
    assert.equal(err.message, "list failed");
    assert.match(err.stack, /^TypeError: list failed\n\s+at /);
    assert.equal(err.cause.message, "connect ECONNREFUSED 10.0.0.1:443");
    assert.equal(err.cause.code, "ECONNREFUSED");
    assert.match(String(err.cause.stack), /ECONNREFUSED/);
  });

  it("a cause chain that loops is cut, and a thrown non-Error is written as text", async () => {
    const { log, lines } = captured();
    const a = new Error("a");
    const b = new Error("b", { cause: a });
    Object.assign(a, { cause: b });
    log.warn("Looped", { err: a });
    log.warn("Thrown text", { err: "just a string" });
    await flushed();
    let depth = 0;
    for (let e = lines[0]!.err as { cause?: unknown }; typeof e === "object" && e.cause !== undefined; depth++)
      e = e.cause as { cause?: unknown };
    assert.ok(depth <= 5, `${depth} causes written`);
    assert.equal(lines[1]!.err, "just a string");
  });

  it("a child logger's fields are on every line it writes", async () => {
    const { log, lines } = captured();
    const pass = log.child({ reconcileID: "3f2c", name: "10-0-0-1-abc" });
    pass.info("Remediated kernel panic");
    pass.debug("Annotated pod that had already finished");
    await flushed();
    for (const line of lines) assert.deepEqual([line.reconcileID, line.name], ["3f2c", "10-0-0-1-abc"]);
  });

  it("logFormat ecs writes Elastic Common Schema: its field names, the error's as error.*", async () => {
    const { log, lines } = captured("ecs");
    log.child({ reconcileID: "3f2c" }).error("Reconcile failed", { err: new Error("boom", { cause: new Error("x") }) });
    log.info("Started receiver", { udpPorts: [6666] });
    await flushed();
    const [failed, started] = lines;
    for (const line of [failed!, started!]) {
      assert.match(String(line["@timestamp"]), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.match(String(line["ecs.version"]), /^8\./, "ECS 8");
      assert.equal(typeof line.message, "string");
      assert.equal("level" in line, false, "the level is log.level, not ECS-foreign level");
      assert.equal("timestamp" in line, false);
    }
    assert.equal(failed!["log.level"], "error");
    assert.equal(started!["log.level"], "info");
    const error = failed!.error as { type: string; message: string; stack_trace: string };
    assert.deepEqual([error.type, error.message], ["Error", "boom"]);
    assert.match(error.stack_trace, /^Error: boom\n/);
    assert.equal(failed!.reconcileID, "3f2c");
  });

  it("writes every level to stdout, nothing to stderr", async () => {
    const logModule = fileURLToPath(new URL("../../operator/log.ts", import.meta.url));
    const script = `import { createLogger } from ${JSON.stringify(logModule)};
      const log = createLogger("debug", "t");
      for (const level of ["error", "warn", "info", "debug"]) log[level]("At " + level);`;
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script]);
    assert.equal(stderr, "");
    const levels = stdout
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as { level: string }).level);
    assert.deepEqual(levels, ["error", "warn", "info", "debug"]);
  });
});
