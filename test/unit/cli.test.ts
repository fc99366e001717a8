import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, it } from "node:test";
import { kernelLogsDir } from "../harness/kernel-logs.ts";

const bin = fileURLToPath(new URL("../../bin/lastgasp.ts", import.meta.url));
const run = async (...args: string[]): Promise<{ code?: number; stdout: string; stderr: string }> =>
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

describe("lastgasp scan", () => {
  const fixtures = `${kernelLogsDir()}/`;

  it("prints one JSON object per panic with firstLine, reason, cause and contextLines", async () => {
    const { stdout } = await run("scan", `${fixtures}syzkaller/447.log`);
    const lines = stdout.trim().split("\n");
    assert.equal(lines.length, 1);
    const panic = JSON.parse(lines[0]!) as { firstLine: string; reason: string; cause: string; contextLines: string[] };
    assert.equal(panic.reason, "hung_task: blocked tasks");
    assert.equal(panic.firstLine, "Kernel panic - not syncing: hung_task: blocked tasks");
    assert.match(panic.cause, /^INFO: task syz-executor4:6761 blocked for more than 140 seconds/);
    assert.equal(panic.contextLines.length, 20);
  });

  it("prints nothing for a log without a panic", async () => {
    const { stdout } = await run("scan", `${fixtures}syzkaller/120.log`);
    assert.equal(stdout, "");
  });

  it("reads standard input with -", async () => {
    const child = execFile(process.execPath, [bin, "scan", "-"]);
    child.stdin?.end("[ 1.000000] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\n");
    const stdout = await new Promise<string>((resolve) => {
      let out = "";
      child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
      child.once("close", () => {
        resolve(out);
      });
    });
    assert.equal(
      (JSON.parse(stdout) as { reason: string }).reason,
      "VFS: Unable to mount root fs on unknown-block(0,0)",
    );
  });

  it("reads a directory as pstore records: each panic with its dump; what it cannot read named on stderr", async () => {
    const fixture = JSON.parse(
      readFileSync(new URL("../fixtures/real-kernels/pstore/6.12.100+deb12-amd64-sysrq.json", import.meta.url), "utf8"),
    ) as { pstore: { name: string; base64: string }[] };
    const dir = mkdtempSync(join(tmpdir(), "lastgasp-pstore-"));
    try {
      for (const f of fixture.pstore) writeFileSync(join(dir, f.name), Buffer.from(f.base64, "base64"));
      writeFileSync(join(dir, "dmesg-ramoops-7.enc.z"), Buffer.from([0x78, 0x9c, 1, 2, 3]));
      const result = await run("scan", dir);
      const panics = result.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { reason: string; cause: string; pstore: { backend: string; reason: string } });
      assert.equal(panics.length, 1);
      assert.equal(panics[0]!.reason, "sysrq triggered crash");
      assert.equal(panics[0]!.cause, "sysrq: Trigger a crash");
      assert.deepEqual([panics[0]!.pstore.backend, panics[0]!.pstore.reason], ["ramoops", "Panic"]);
      assert.match(result.stderr, /skipped .*dmesg-ramoops-7\.enc\.z: a record this kernel could not decompress/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("fails clearly on a missing file and on invalid patterns", async () => {
    const missing = await run("scan", "/nonexistent.log");
    assert.ok("code" in missing && missing.code === 1);
    assert.match(missing.stderr, /lastgasp scan: .*no such file/i);
    const bad = await run("scan", "--context-lines", "abc", `${fixtures}netflix-blog.log`);
    assert.ok("code" in bad && bad.code === 2);
    assert.match(bad.stderr, /--context-lines: expected a whole number/);
  });
});

describe("lastgasp send", () => {
  it("shares the settings parser: --help lists flags and variables, bad values exit 2 naming the flag", async () => {
    const help = await run("send", "--help");
    assert.ok(!("code" in help) || help.code === 0);
    assert.match(help.stdout + ("stderr" in help ? help.stderr : ""), /--first-seq \(LASTGASP_FIRST_SEQ\)/);
    const noTarget = await run("send", "/dev/null");
    assert.ok("code" in noTarget && noTarget.code === 2, "a missing --to is a usage error");
    assert.match(noTarget.stderr, /lastgasp send: invalid configuration:\s+--to HOST:PORT is required/);
    const badSeq = await run("send", "--to", "127.0.0.1:9", "--first-seq", "x", "/dev/null");
    assert.ok("code" in badSeq && badSeq.code === 2);
    assert.match(badSeq.stderr, /--first-seq: expected a whole number, got "x"/);
    const badUserdata = await run("send", "--to", "127.0.0.1:9", "--userdata", "novalue", "/dev/null");
    assert.ok("code" in badUserdata && badUserdata.code === 2);
    assert.match(badUserdata.stderr, /--userdata: expected KEY=VALUE, got "novalue"/);
  });

  it("names the file it cannot read", async () => {
    const missing = await run("send", "--to", "127.0.0.1:9", "/nonexistent/panic.log");
    assert.ok("code" in missing && missing.code === 1);
    assert.match(missing.stderr, /lastgasp send: cannot read \/nonexistent\/panic\.log: .*no such file/i);
  });

  it("names the kubeconfig it cannot load", async () => {
    const result = await promisify(execFile)(process.execPath, [bin, "reconciler"], {
      env: { ...process.env, KUBECONFIG: "/nonexistent/kubeconfig" },
    }).catch((err: unknown) => err as { code: number; stderr: string });
    assert.ok("code" in result && result.code !== 0);
    assert.match(result.stderr, /\/nonexistent\/kubeconfig/);
  });
});
