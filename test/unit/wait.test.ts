import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { waitFor } from "../harness/wait.ts";

describe("waitFor", () => {
  it("returns the first truthy value the probe yields", async () => {
    let calls = 0;
    const value = await waitFor(() => (++calls >= 3 ? `ready after ${calls}` : undefined), {
      what: "third call",
      intervalMs: 1,
    });
    assert.equal(value, "ready after 3");
  });

  it("treats thrown errors as not yet and reports the last one on timeout", async () => {
    await assert.rejects(
      waitFor(
        () => {
          throw new Error("connection refused");
        },
        { what: "a dead server", timeoutMs: 30, intervalMs: 5 },
      ),
      /timed out after 30 ms waiting for a dead server; last error: Error: connection refused/,
    );
  });
});
