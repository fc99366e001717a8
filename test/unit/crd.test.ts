// The CRD file that ships and the code's view of it must agree: names, limits, printer columns.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parse } from "yaml";
import {
  CONTINUITY,
  SOURCES,
  GROUP,
  KIND,
  LIMITS,
  PLURAL,
  VERSION,
  type KernelPanicEventSpec,
  type KernelPanicEventStatus,
  type StreamEvidence,
} from "../../operator/api/kernelpanicevent.ts";
import { REASONS } from "../../operator/reconciler/status/conditions.ts";

interface Schema {
  type?: string;
  description?: string;
  maxLength?: number;
  maxItems?: number;
  maxProperties?: number;
  enum?: string[];
  required?: string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema;
  "x-kubernetes-validations"?: { rule: string }[];
}

const crd = parse(readFileSync(new URL("../../crds/lastgasp.dev_kernelpanicevents.yaml", import.meta.url), "utf8")) as {
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string; shortNames: string[]; categories: string[] };
    versions: {
      name: string;
      subresources: unknown;
      additionalPrinterColumns: { name: string; jsonPath: string; priority?: number }[];
      schema: { openAPIV3Schema: Schema };
    }[];
  };
};
const version = crd.spec.versions[0]!;
const spec = version.schema.openAPIV3Schema.properties!.spec!;
const status = version.schema.openAPIV3Schema.properties!.status!;

describe("crds/lastgasp.dev_kernelpanicevents.yaml", () => {
  it("names the resource as the code does", () => {
    assert.equal(crd.metadata.name, `${PLURAL}.${GROUP}`);
    assert.equal(crd.spec.group, GROUP);
    assert.equal(crd.spec.names.kind, KIND);
    assert.equal(crd.spec.names.plural, PLURAL);
    assert.equal(version.name, VERSION);
    assert.equal(crd.spec.scope, "Cluster");
    assert.deepEqual(crd.spec.names.shortNames, ["kpe"]);
    assert.deepEqual(crd.spec.names.categories, ["lastgasp"]);
    assert.deepEqual(version.subresources, { status: {} });
  });

  it("bounds every string and list exactly as the code's LIMITS", () => {
    const p = spec.properties!;
    assert.equal(p.hostIP!.maxLength, LIMITS.hostIP);
    assert.equal(p.firstLine!.maxLength, LIMITS.firstLine);
    assert.equal(p.reason!.maxLength, LIMITS.reason);
    assert.equal(p.cause!.maxLength, LIMITS.cause);
    assert.equal(p.contextLines!.maxItems, LIMITS.contextLines);
    assert.equal(p.contextLines!.items!.maxLength, LIMITS.contextLine);
    assert.equal(p.release!.maxLength, LIMITS.release);
    assert.equal(p.userdata!.maxProperties, LIMITS.userdataEntries);
    assert.equal(p.userdata!.additionalProperties!.maxLength, LIMITS.userdataValue);
    assert.match(
      p.userdata!["x-kubernetes-validations"]![0]!.rule,
      new RegExp(`size\\(k\\) <= ${LIMITS.userdataKey}\\b`),
    );
    assert.equal(p.receivedBy!.maxLength, LIMITS.receivedBy);
    assert.equal(p.source!.maxLength, LIMITS.source);
    const signature = p.signature!.properties!;
    assert.equal(signature.title!.maxLength, LIMITS.signatureTitle);
    assert.equal(signature.frames!.maxItems, LIMITS.signatureFrames);
    assert.equal(signature.frames!.items!.maxLength, LIMITS.signatureFrame);
    assert.equal(status.properties!.nodeName!.maxLength, LIMITS.nodeName);
    assert.equal(status.properties!.conditions!.maxItems, LIMITS.conditions);
    assert.equal(status.properties!.workloads!.maxItems, LIMITS.workloads);
    assert.equal(status.properties!.workloads!.items!.properties!.name!.maxLength, LIMITS.workloadName);
    const suspects = status.properties!.suspects!;
    assert.equal(suspects.maxItems, LIMITS.suspects);
    assert.equal(suspects.items!.properties!.name!.maxLength, LIMITS.workloadName);
    assert.equal(suspects.items!.properties!.events!.maxItems, LIMITS.suspectEvents);
    const unbounded = Object.entries(p).filter(
      ([, s]) => (s.type === "string" && s.maxLength === undefined) || (s.type === "array" && s.maxItems === undefined),
    );
    assert.deepEqual(
      unbounded.map(([k]) => k),
      ["detectedTime"],
      "only the date-time (bounded by its format) has no maxLength",
    );
  });

  it("has exactly the fields of the code's types, and requires what the receiver always writes", () => {
    const specKeys: (keyof KernelPanicEventSpec)[] = [
      "hostIP",
      "firstLine",
      "reason",
      "cause",
      "contextLines",
      "detectedTime",
      "release",
      "signature",
      "sequence",
      "uptimeSeconds",
      "userdata",
      "stream",
      "receivedBy",
      "source",
      "nodeName",
    ];
    assert.deepEqual(Object.keys(spec.properties!).sort(), [...specKeys].sort());
    assert.deepEqual(spec.properties!.source!.enum, [...SOURCES]);
    const streamKeys: (keyof StreamEvidence)[] = [
      "continuity",
      "node",
      "bootID",
      "previousSequence",
      "secondsSinceHeard",
      "driftMilliseconds",
      "message",
    ];
    const stream = spec.properties!.stream!;
    assert.deepEqual(Object.keys(stream.properties!).sort(), [...streamKeys].sort());
    assert.deepEqual(stream.properties!.continuity!.enum, [...CONTINUITY]);
    assert.deepEqual(spec.required!.sort(), [
      "contextLines",
      "detectedTime",
      "firstLine",
      "hostIP",
      "reason",
      "receivedBy",
    ]);
    const statusKeys: (keyof KernelPanicEventStatus)[] = [
      "nodeName",
      "confirmedBy",
      "workloads",
      "suspects",
      "conditions",
      "observedGeneration",
      "podsFailed",
      "pods",
      "podsNotListed",
      "podsDeleted",
      "remediatedTime",
      "remediationSeconds",
    ];
    assert.deepEqual(Object.keys(status.properties!).sort(), [...statusKeys].sort());
  });

  it("makes spec immutable", () => {
    assert.deepEqual(
      spec["x-kubernetes-validations"]?.map((v) => v.rule),
      ["self == oldSelf"],
    );
  });

  it("describes every field of the status, for kubectl explain", () => {
    const undescribed: string[] = [];
    const walk = (s: Schema, path: string) => {
      if (s.description === undefined || s.description.trim() === "") undescribed.push(path);
      for (const [key, child] of Object.entries(s.properties ?? {})) walk(child, `${path}.${key}`);
      if (s.items?.properties !== undefined)
        for (const [key, child] of Object.entries(s.items.properties)) walk(child, `${path}.${key}`);
    };
    walk(status, "status");
    assert.deepEqual(undescribed, []);
  });

  it("names every reason of the code in kubectl explain kpe.status.conditions.reason", () => {
    const reason = status.properties!.conditions!.items!.properties!.reason!.description!;
    // ForgedPanicsSuspected and ProbeContradicted are the reasons of Warnings, never of a condition.
    const events = new Set<string>([REASONS.forgedPanics, REASONS.probeContradicted]);
    const conditionReasons = Object.values(REASONS).filter((r) => !events.has(r));
    const missing = conditionReasons.filter((r) => !new RegExp(`\\b${r}\\b`).test(reason));
    assert.deepEqual(missing, []);
  });

  it("prints Node, Host IP, Reason, Status, Remediated, Crash Loop, Suspects, Age, and Cause and Signature with -o wide", () => {
    const columns = version.additionalPrinterColumns;
    assert.deepEqual(
      columns.filter((c) => c.priority === undefined).map((c) => c.name),
      ["Node", "Host IP", "Reason", "Status", "Remediated", "Crash Loop", "Suspects", "Age"],
    );
    assert.equal(
      columns.find((c) => c.name === "Status")?.jsonPath,
      `.status.conditions[?(@.type=="Remediated")].reason`,
    );
    assert.deepEqual(
      columns.filter((c) => c.priority === 1).map((c) => [c.name, c.jsonPath]),
      [
        ["Cause", ".spec.cause"],
        ["Signature", ".spec.signature.title"],
      ],
    );
  });
});
