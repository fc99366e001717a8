import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { describe, it } from "node:test";
import { forEachLimit } from "../../operator/concurrency.ts";
import { sendDatagrams } from "../../operator/sender/send.ts";
import { waitFor } from "../harness/wait.ts";

describe("sendDatagrams", () => {
  it("sends in order from the chosen source, telling onSend before each datagram", async () => {
    const receiver = createSocket("udp4");
    const got: { text: string; from: string }[] = [];
    receiver.on("message", (msg, rinfo) => got.push({ text: msg.toString(), from: rinfo.address }));
    await new Promise<void>((resolve) => receiver.bind({ address: "127.0.0.1", port: 0 }, resolve));
    try {
      const told: number[] = [];
      const datagrams = ["a\n", "b\n", "c\n"].map((t) => Buffer.from(t));
      await sendDatagrams(datagrams, {
        to: `127.0.0.1:${receiver.address().port}`,
        from: "127.0.0.77",
        onSend: (i) => told.push(i),
      });
      assert.deepEqual(told, [0, 1, 2]);
      await waitFor(() => got.length === 3, { what: "three datagrams", timeoutMs: 2000 });
      assert.deepEqual(
        got,
        ["a\n", "b\n", "c\n"].map((text) => ({ text, from: "127.0.0.77" })),
      );
    } finally {
      receiver.close();
    }
  });
});

describe("forEachLimit", () => {
  it("visits every item in order with at most `limit` in flight", async () => {
    let inFlight = 0;
    let peak = 0;
    const started: number[] = [];
    await forEachLimit([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      started.push(n);
      peak = Math.max(peak, ++inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight--;
    });
    assert.deepEqual(started, [1, 2, 3, 4, 5, 6, 7]);
    assert.equal(peak, 3);
  });

  it("rejects with the first failure", async () => {
    await assert.rejects(
      forEachLimit([1, 2], 2, (n) => (n === 2 ? Promise.reject(new Error("two")) : Promise.resolve())),
      /two/,
    );
  });
});
