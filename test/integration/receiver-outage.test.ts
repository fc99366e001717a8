// Nothing detected is lost: a panic heard while the API server is down is written once it is back.
// This file runs its own control plane, because it stops the API server.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { encodePlain } from "../../operator/netconsole/encode.ts";
import { sendDatagrams } from "../../operator/sender/send.ts";
import { ControlPlane } from "../harness/controlplane.ts";
import { eventsFor, startTestReceiver, NO_NODES } from "../harness/receiver.ts";
import { waitFor } from "../harness/wait.ts";
import type { Receiver } from "../../operator/receiver/receiver.ts";
import { kernelLogsDir } from "../harness/kernel-logs.ts";

const netflix = readFileSync(`${kernelLogsDir()}/netflix-blog.log`, "utf8").trimEnd().split("\n");

describe("receiver during an API server outage", () => {
  let plane: ControlPlane;
  let receiver: Receiver;
  let target: string;

  before(async () => {
    plane = await ControlPlane.start();
    ({ receiver, target } = await startTestReceiver(plane.adminKubeConfig(), [
      "--shutdown-grace-seconds",
      "1",
      ...NO_NODES,
    ]));
  });
  after(async () => {
    await receiver.stop();
    await plane.stop();
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
});
