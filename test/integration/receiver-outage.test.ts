// Nothing detected is lost: a panic heard while the API server is down is written once it is back.
// This file runs its own control plane, because it stops the API server.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { encodePlain } from "../../operator/netconsole/encode.ts";
import { sendDatagrams } from "../../operator/sender/send.ts";
import type { ControlPlane } from "../harness/controlplane.ts";
import { privateControlPlane } from "../harness/private-plane.ts";
import { eventsFor, startTestReceiver, NO_NODES } from "../harness/receiver.ts";
import { waitFor } from "../harness/wait.ts";
import type { Receiver } from "../../operator/receiver/main/service.ts";
import { kernelLogsDir } from "../harness/kernel-logs.ts";

const netflix = readFileSync(`${kernelLogsDir()}/netflix-blog.log`, "utf8").trimEnd().split("\n");

describe("receiver during an API server outage", () => {
  let plane: ControlPlane;
  let receiver: Receiver;
  let target: string;

  const own = privateControlPlane("it stops the API server");
  before(async () => {
    plane = await own.ready;
    ({ receiver, target } = await startTestReceiver(plane.adminKubeConfig(), [
      "--shutdown-grace-seconds",
      "1",
      ...NO_NODES,
    ]));
  });
  after(async () => {
    await receiver.stop();
    await own.stop();
  });

  it("retries with backoff while the API server is down and records the event once it is back", async () => {
    await plane.stopApiServer();
    await sendDatagrams(encodePlain(netflix), { to: target, from: "127.0.0.120" });
    const retries = async () => (await receiver.metrics.writeRetries.get()).values.reduce((sum, v) => sum + v.value, 0);
    await waitFor(async () => (await retries()) >= 2, {
      what: "at least two failed write attempts",
      timeoutMs: 15_000,
    });
    assert.equal((await receiver.metrics.pendingWrites.get()).values[0]?.value, 1, "the event waits in the queue");

    await plane.startApiServer();
    const [event] = await eventsFor(plane.adminKubeConfig(), "127.0.0.120", 1, 30_000);
    assert.equal(event!.spec.reason, "buffer overrun at 0x4ba4c73e73acce54");
    await waitFor(async () => (await receiver.metrics.pendingWrites.get()).values[0]?.value === 0, {
      what: "the queue to empty",
    });
  });

  it("stopped with three panics unwritten (API server down): they are spooled, and the next receiver records them", async () => {
    const spool = mkdtempSync(join(tmpdir(), "lastgasp-spool-"));
    const kc = plane.adminKubeConfig();
    const flags = ["--shutdown-grace-seconds", "1", "--spool-directory", spool, ...NO_NODES];
    const sources = ["127.0.0.121", "127.0.0.122", "127.0.0.123"];
    try {
      const first = await startTestReceiver(kc, flags);
      await plane.stopApiServer();
      for (const from of sources) await sendDatagrams(encodePlain(netflix), { to: first.target, from });
      await waitFor(async () => (await first.receiver.metrics.pendingWrites.get()).values[0]?.value === 3, {
        what: "three events waiting for the API server",
        timeoutMs: 15_000,
      });
      await first.receiver.stop();
      assert.equal(readdirSync(spool).filter((f) => f.endsWith(".json")).length, 3, "spooled at shutdown");

      await plane.startApiServer();
      const second = await startTestReceiver(kc, flags);
      try {
        for (const from of sources) await eventsFor(kc, from, 1, 30_000);
        await waitFor(() => readdirSync(spool).length === 0, { what: "the spool emptied once written" });
      } finally {
        await second.receiver.stop();
      }
    } finally {
      rmSync(spool, { recursive: true, force: true });
    }
  });
});
