// How many receive threads the receiver starts (commands/receiver.ts): one per CPU, but never more than the memory
// limit has room for at each thread's worst case, so that the default fits the chart's limit at any CPU count.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { receiveThreads } from "../../operator/commands/receiver.ts";
import { RECEIVER_MEMORY_MIB } from "../../operator/commands/tuning.ts";

const MIB = 2 ** 20;

describe("receiveThreads", () => {
  it("at the chart's 256 MiB, one thread at 1 to 64 CPUs; its measured worst case fits", () => {
    for (const cpus of [1, 2, 4, 8, 16, 64]) {
      const threads = receiveThreads({ receiveThreads: 0, memoryLimitBytes: 256 * MIB }, cpus);
      assert.equal(threads, 1, `${cpus} CPUs`);
      assert.ok(RECEIVER_MEMORY_MIB.base + threads * RECEIVER_MEMORY_MIB.perThread <= 256);
    }
  });

  it("more memory, more threads, never more than CPUs; at least one however little memory", () => {
    assert.equal(receiveThreads({ receiveThreads: 0, memoryLimitBytes: 512 * MIB }, 16), 8);
    assert.equal(receiveThreads({ receiveThreads: 0, memoryLimitBytes: 512 * MIB }, 4), 4);
    assert.equal(receiveThreads({ receiveThreads: 0, memoryLimitBytes: 64 * MIB }, 16), 1);
  });

  it("no limit known: one per CPU; set explicitly: as set", () => {
    assert.equal(receiveThreads({ receiveThreads: 0, memoryLimitBytes: 0 }, 12), 12);
    assert.equal(receiveThreads({ receiveThreads: 6, memoryLimitBytes: 256 * MIB }, 2), 6);
  });
});
