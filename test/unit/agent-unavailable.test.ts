// The node agent on a kernel that cannot run netconsole (agent.ts, report.ts): it says why to the receivers, at
// once, when the reason changes, and again while it holds (soon at first: a datagram sent before the receivers
// listen is lost; then at most at the self-test interval), and its check still fails (logged; the agent stays up
// and tries again).
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { NetconsoleAgent } from "../../operator/agent/netconsole-agent.ts";
import { PathResolver } from "../../operator/agent/route.ts";
import { createLogger } from "../../operator/log.ts";
import { testAgentConfig } from "../harness/agent-config.ts";
import { NetconsoleKernelModel } from "../harness/netconsole-kernel.ts";
import { ManualClock } from "../harness/clock.ts";

const BOOT_ID = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";

describe("NetconsoleAgent without netconsole", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "lastgasp-agent-"));
    await writeFile(join(dir, "boot_id"), `${BOOT_ID}\n`);
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it("reports why to the receivers (again at a doubling gap up to the self-test interval, at once on a new reason), and throws", async () => {
    const first = "/sys/kernel/config does not exist: configfs is not mounted on this node";
    const second = "modprobe netconsole failed: FATAL: Module netconsole not found";
    let reason = first;
    const kernel = Object.assign(new NetconsoleKernelModel(), {
      ensureAvailable: () => Promise.reject(new Error(reason)),
    });
    const config = testAgentConfig(dir, { receivers: ["10.9.0.7:6666"] });
    const clock = new ManualClock();
    const reports: string[] = [];
    const agent = new NetconsoleAgent(config, {
      configfs: kernel,
      resolver: new PathResolver({ neighbourTimeoutMs: 100 }),
      log: createLogger("silent", "agent"),
      clock,
      reportUnavailable: (line) => {
        reports.push(line);
        return Promise.resolve();
      },
    });
    const line = (why: string) => `lastgasp netconsole unavailable node=node-a boot_id=${BOOT_ID} reason=${why}`;
    const sentAfter = async (ms: number) => {
      await clock.advance(ms);
      const before = reports.length;
      await assert.rejects(agent.check(), /configfs is not mounted/);
      return reports.length - before;
    };
    // Checked every 30 s (the check interval): the repeats' gap doubles from there up to the 300 s interval.
    assert.equal(await sentAfter(0), 1, "at once");
    assert.equal(await sentAfter(30_000), 1, "again after the check interval: the first may have found no receiver");
    assert.equal(await sentAfter(30_000), 0, "then after 60 s");
    assert.equal(await sentAfter(30_000), 1);
    assert.equal(await sentAfter(90_000), 0, "then after 120 s");
    assert.equal(await sentAfter(30_000), 1);
    assert.equal(await sentAfter(239_000), 0, "then after 240 s");
    assert.equal(await sentAfter(1_000), 1);
    assert.equal(await sentAfter(299_000), 0, "and never less often than the self-test interval");
    assert.equal(await sentAfter(1_000), 1);
    assert.equal(await sentAfter(300_000), 1);
    reason = second;
    await clock.advance(30_000);
    await assert.rejects(agent.check(), /Module netconsole not found/);
    assert.deepEqual(reports.slice(-2), [line(first), line(second)], "a new reason at once");
    assert.equal(reports.length, 8);
  });
});
