import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LIMITS } from "../../operator/api/kernelpanicevent.ts";
import { kernelPanicEventName } from "../../operator/api/names.ts";
import { toKernelPanicEvent } from "../../operator/receiver/main/event.ts";
import { LABELS } from "../../operator/api/keys.ts";
import type { PanicReport } from "../../operator/receiver/ingest-messages.ts";

const report: PanicReport = {
  hostIP: "10.0.1.23",
  firstLine: "Kernel panic - not syncing: Fatal exception",
  reason: "Fatal exception",
  cause: "Oops: 0000 [#1] PREEMPT SMP NOPTI",
  contextLines: ["Oops", "Kernel panic - not syncing: Fatal exception"],
  frames: ["sysrq_handle_crash", "__handle_sysrq"],
  detectedAtMs: Date.parse("2026-01-02T03:04:05.678Z"),
  sequence: 5123,
  uptimeMicros: 3742283995,
  userdata: { node: "ip-10-0-1-23" },
};

describe("KernelPanicEvent names", () => {
  it("are deterministic, DNS-safe and start with the host IP", () => {
    const a = toKernelPanicEvent(report, "receiver-a").metadata.name;
    const b = toKernelPanicEvent({ ...report, detectedAtMs: report.detectedAtMs + 5 }, "receiver-b").metadata.name;
    assert.equal(a, b, "two receivers a few ms apart agree");
    assert.match(a, /^10-0-1-23-[0-9a-f]{12}$/);
    assert.match(
      kernelPanicEventName({ hostIP: "fd00::1:23", firstLine: "x", epochBucket: 1 }),
      /^fd00-1-23-[0-9a-f]{12}$/,
    );
  });

  it("differ for another panic of the same host", () => {
    const a = toKernelPanicEvent(report, "r").metadata.name;
    assert.notEqual(a, toKernelPanicEvent({ ...report, sequence: 77 }, "r").metadata.name);
    assert.notEqual(
      a,
      toKernelPanicEvent({ ...report, detectedAtMs: report.detectedAtMs + 3_600_000 }, "r").metadata.name,
    );
  });
});

describe("toKernelPanicEvent", () => {
  it("records every field the report has", () => {
    const event = toKernelPanicEvent(report, "lastgasp-receiver-0");
    assert.deepEqual(event.spec, {
      hostIP: "10.0.1.23",
      firstLine: "Kernel panic - not syncing: Fatal exception",
      reason: "Fatal exception",
      cause: "Oops: 0000 [#1] PREEMPT SMP NOPTI",
      contextLines: ["Oops", "Kernel panic - not syncing: Fatal exception"],
      signature: {
        id: event.metadata.labels![LABELS.signature]!,
        title: "Oops in sysrq_handle_crash",
        frames: ["sysrq_handle_crash", "__handle_sysrq"],
      },
      detectedTime: "2026-01-02T03:04:05.678Z",
      sequence: 5123,
      uptimeSeconds: 3742.283995,
      userdata: { node: "ip-10-0-1-23" },
      receivedBy: "lastgasp-receiver-0",
    });
  });

  it("clamps every field to the CRD's limits", () => {
    const huge = "x".repeat(5000);
    const event = toKernelPanicEvent(
      {
        ...report,
        firstLine: huge,
        reason: huge,
        cause: huge,
        contextLines: Array.from({ length: 500 }, () => huge),
        release: huge,
      },
      huge,
    );
    assert.equal(event.spec.firstLine.length, LIMITS.firstLine);
    assert.equal(event.spec.reason.length, LIMITS.reason);
    assert.equal(event.spec.cause?.length, LIMITS.cause);
    assert.equal(event.spec.contextLines.length, LIMITS.contextLines);
    assert.ok(event.spec.contextLines.every((l) => l.length === LIMITS.contextLine));
    assert.equal(event.spec.release?.length, LIMITS.release);
    assert.equal(event.spec.receivedBy.length, LIMITS.receivedBy);
    assert.ok(event.spec.signature!.title.length <= LIMITS.signatureTitle);
  });

  it("labels the event with its crash signature, the same for the same bug on another node and boot", () => {
    const event = toKernelPanicEvent(report, "r");
    const id = event.metadata.labels![LABELS.signature]!;
    assert.match(id, /^[0-9a-f]{16}$/);
    const elsewhere = toKernelPanicEvent({ ...report, hostIP: "10.0.9.9", sequence: 1, uptimeMicros: 5 }, "r");
    assert.equal(elsewhere.metadata.labels![LABELS.signature], id);
    const otherBug = toKernelPanicEvent({ ...report, frames: ["ext4_mb_new_blocks"] }, "r");
    assert.notEqual(otherBug.metadata.labels![LABELS.signature], id);
  });
});
