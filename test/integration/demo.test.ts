// `make demo` as a newcomer runs it (hack/demo.ts, its own control plane): it tells the whole story and ends in
// the state it promised, read back from the API server, and leaves no process behind.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";

const demo = fileURLToPath(new URL("../../hack/demo.ts", import.meta.url));
/** The demo takes ~20 s on an idle machine; a loaded 2-core CI runner gets ample room. */
const DEMO_TIMEOUT_MS = 300_000;

/** Runs the demo to its exit; its output and exit code. */
async function runDemo(): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [demo], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), DEMO_TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  clearTimeout(timer);
  return { code, output };
}

describe("make demo", () => {
  it("ends as the story says: panic recorded and remediated, node and its pods gone, workloads whole, every pod explained", async () => {
    const { code, output } = await runDemo();
    const line = /^Demo end state: (.*)$/m.exec(output)?.[1];
    assert.ok(line !== undefined, `the demo reported its end state:\n${output.slice(-3000)}`);
    assert.deepEqual(
      JSON.parse(line) as Record<string, boolean>,
      {
        panicRecorded: true,
        remediated: true,
        victimNodeGone: true,
        victimPodsFailedAndDeleted: true,
        deploymentRunningElsewhere: true,
        jobRetriedWithoutFailure: true,
        whyExplainsEveryPod: true,
      },
      output.slice(-4000),
    );
    assert.equal(code, 0, output.slice(-3000));
    assert.match(output, /Done: no process left running\.\n$/);
  });
});
