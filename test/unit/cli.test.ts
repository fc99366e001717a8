import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, it } from "node:test";

const bin = fileURLToPath(new URL("../../bin/lastgasp.ts", import.meta.url));
const run = async (...args: string[]) =>
  promisify(execFile)(process.execPath, [bin, ...args]).catch(
    (err: unknown) => err as { code: number; stdout: string; stderr: string },
  );

describe("lastgasp CLI", () => {
  it("prints usage with --help and exits 0", async () => {
    const result = await run("--help");
    assert.match(result.stdout, /^Usage: lastgasp <command> \[options\]$/m);
    assert.equal("code" in result ? result.code : 0, 0);
  });

  it("prints its version from package.json", async () => {
    const { stdout } = await run("--version");
    assert.match(stdout, /^lastgasp \d+\.\d+\.\d+ \(node v\d+\.\d+\.\d+\)\n$/);
  });

  it("rejects an unknown command with exit code 2 and a hint", async () => {
    const result = await run("frobnicate");
    assert.ok("code" in result, "expected a non-zero exit");
    assert.equal(result.code, 2);
    assert.match(result.stderr, /unknown command 'frobnicate'.*lastgasp --help/);
  });

  it("runs on the Node the project pins (≥ 22.19)", () => {
    const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
    assert.ok(major > 22 || (major === 22 && minor >= 19), `running on Node ${process.version}`);
  });
});
