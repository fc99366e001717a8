// The agent's report of what its node kept (operator/agent/recover-last-words.ts and what it composes): real
// kernels' ramoops records (test/fixtures/real-kernels/pstore, captured by hack/capture-pstore-fixtures.ts) laid out
// as a node keeps them, in pstore's filesystem and in systemd-pstore's archive, become one KernelPanicEvent each,
// with the receiver's reason, cause and signature; reported once across restarts; erased only where asked and
// only from pstore's own filesystem; a failed create is neither remembered nor erased.
import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { KernelPanicEvent } from "../../operator/api/kernelpanicevent.ts";
import { recoverLastWords, type RecoverDeps } from "../../operator/agent/recover-last-words.ts";
import { ReportedRecords } from "../../operator/agent/reported-records.ts";
import { createLogger } from "../../operator/log.ts";
import { defaultPatternsFile, loadPatterns } from "../../operator/panics/detector/patterns.ts";
import { testIngest } from "../harness/ingest.ts";
import { crashSignature } from "../../operator/panics/signature.ts";

interface PstoreFixture {
  readonly source: string;
  readonly datagrams: readonly { readonly offsetMs: number; readonly base64: string }[];
  readonly pstore: readonly { readonly name: string; readonly base64: string }[];
}

const fixture = JSON.parse(
  readFileSync(new URL("../fixtures/real-kernels/pstore/6.12.100+deb12-amd64-sysrq.json", import.meta.url), "utf8"),
) as PstoreFixture;
const RECORD_TIME = Date.parse("2026-12-07T01:02:03Z");
const roots: string[] = [];
after(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** A node's directories with the fixture's ramoops record in pstore's filesystem (and, when asked, archived). */
function node(options: { archived?: boolean; live?: boolean } = {}) {
  const root = mkdtempSync(join(tmpdir(), "lastgasp-last-words-"));
  roots.push(root);
  const places = {
    pstoreDir: join(root, "sys/fs/pstore"),
    pstoreArchiveDir: join(root, "var/lib/systemd/pstore"),
    kdumpDir: join(root, "var/crash"),
  };
  const write = (dir: string) => {
    mkdirSync(dir, { recursive: true });
    for (const f of fixture.pstore) {
      writeFileSync(join(dir, f.name), Buffer.from(f.base64, "base64"));
      utimesSync(join(dir, f.name), RECORD_TIME / 1000, RECORD_TIME / 1000);
    }
  };
  if (options.live !== false) write(places.pstoreDir);
  if (options.archived === true) write(join(places.pstoreArchiveDir, "1733533323000000"));
  return { root, places, reportedFile: join(root, "var/lib/lastgasp/reported-panics.json") };
}

/** The API as the agent sees it: create, AlreadyExists for a name it has; or failing. */
function sink(fail = false) {
  const events = new Map<string, KernelPanicEvent>();
  let calls = 0;
  return {
    events,
    get calls() {
      return calls;
    },
    createKernelPanicEvent(event: KernelPanicEvent) {
      calls++;
      if (fail) return Promise.reject(new Error("connect ECONNREFUSED"));
      if (events.has(event.metadata.name)) return Promise.resolve("exists" as const);
      events.set(event.metadata.name, event);
      return Promise.resolve("created" as const);
    },
  };
}

function deps(n: ReturnType<typeof node>, s: ReturnType<typeof sink>, extra: Partial<RecoverDeps> = {}): RecoverDeps {
  return {
    places: n.places,
    node: { nodeName: "node-7", hostIP: "10.0.0.7", receivedBy: "agent/node-7" },
    detection: {
      patterns: loadPatterns(defaultPatternsFile),
      options: { contextLines: 20, quietMs: 0, deadlineMs: 0, duplicateWindowMs: 0 },
    },
    sink: s,
    reported: extra.reported ?? ReportedRecords.load(n.reportedFile),
    erasePstore: false,
    log: createLogger("silent", "agent"),
    ...extra,
  };
}

/** What netconsole carried of the same panic, through the receiver's ingest. */
function heardOverNetconsole() {
  const { ingest, reports } = testIngest();
  for (const d of fixture.datagrams) ingest.datagram(fixture.source, Buffer.from(d.base64, "base64"), 1e6 + d.offsetMs);
  ingest.tick(1e7);
  return reports[0]!;
}

describe("the agent reports the panics its node kept", () => {
  it("a real 6.12 ramoops record: one event, source pstore, its node, the record's time, netconsole's reason, cause and signature", async () => {
    const n = node();
    const s = sink();
    const result = await recoverLastWords(deps(n, s));
    assert.deepEqual(result, { created: 1, known: 0, failed: 0, logs: 1, problems: 0 });
    const [event] = [...s.events.values()] as [KernelPanicEvent];
    const heard = heardOverNetconsole();
    assert.equal(event.spec.source, "pstore");
    assert.equal(event.spec.nodeName, "node-7");
    assert.equal(event.spec.hostIP, "10.0.0.7");
    assert.equal(event.spec.detectedTime, new Date(RECORD_TIME).toISOString());
    assert.equal(event.spec.reason, heard.reason);
    assert.equal(event.spec.cause, heard.cause);
    assert.equal(event.spec.firstLine, heard.firstLine);
    assert.equal(event.spec.uptimeSeconds, heard.uptimeMicros! / 1e6);
    const signature = crashSignature(heard);
    assert.equal(event.spec.signature?.id, signature.id);
    assert.equal(event.spec.signature?.title, signature.title);
    assert.match(event.metadata.name, /^node-7-pstore-[0-9a-f]{12}$/);
    assert.equal(event.metadata.labels?.["lastgasp.dev/signature"], event.spec.signature?.id);
  });

  it("the same record in systemd-pstore's archive too is one event (its name comes from its text, not its files)", async () => {
    const n = node({ archived: true });
    const s = sink();
    const result = await recoverLastWords(deps(n, s));
    assert.equal(result.logs, 2);
    assert.deepEqual([result.created, result.known], [1, 1]);
    assert.equal(s.events.size, 1);
  });

  it("a restart reports nothing again, even after the event is gone (merged, expired): the node remembers", async () => {
    const n = node();
    const first = sink();
    await recoverLastWords(deps(n, first));
    const second = sink(); // an API without the event
    const result = await recoverLastWords(deps(n, second));
    assert.deepEqual([result.created, result.known], [0, 1]);
    assert.equal(second.calls, 0);
    assert.deepEqual(JSON.parse(readFileSync(n.reportedFile, "utf8")), [...first.events.keys()]);
  });

  it("an unreadable record of what was reported is started afresh and written whole again", async () => {
    const n = node();
    mkdirSync(join(n.reportedFile, ".."), { recursive: true });
    writeFileSync(n.reportedFile, "{ half written");
    assert.throws(() => ReportedRecords.load(n.reportedFile), /JSON/);
    const s = sink();
    await recoverLastWords(deps(n, s, { reported: ReportedRecords.empty(n.reportedFile) }));
    assert.deepEqual(JSON.parse(readFileSync(n.reportedFile, "utf8")), [...s.events.keys()]);
  });

  it("a failed create is neither remembered nor erased: the next pass reports it", async () => {
    const n = node();
    const down = sink(true);
    const failed = await recoverLastWords(deps(n, down, { erasePstore: true }));
    assert.deepEqual([failed.created, failed.failed], [0, 1]);
    assert.equal(existsSync(n.reportedFile), false);
    assert.equal(readdirSync(n.places.pstoreDir).length, fixture.pstore.length);
    const up = sink();
    assert.equal((await recoverLastWords(deps(n, up))).created, 1);
  });

  it("erasePstore removes the reported record from pstore's filesystem, never from systemd-pstore's archive", async () => {
    const n = node({ archived: true });
    const kept = readdirSync(n.places.pstoreDir).filter((f) => !f.startsWith("dmesg-"));
    await recoverLastWords(deps(n, sink(), { erasePstore: true }));
    assert.deepEqual(readdirSync(n.places.pstoreDir), kept, "the dmesg record's parts are gone, nothing else");
    assert.equal(readdirSync(join(n.places.pstoreArchiveDir, "1733533323000000")).length, fixture.pstore.length);
    const archivedOnly = node({ archived: true, live: false });
    const s = sink();
    await recoverLastWords(deps(archivedOnly, s, { erasePstore: true }));
    assert.equal(s.events.size, 1);
    const archive = join(archivedOnly.places.pstoreArchiveDir, "1733533323000000");
    assert.equal(readdirSync(archive).length, fixture.pstore.length);
  });

  it("off by default: the record stays", async () => {
    const n = node();
    await recoverLastWords(deps(n, sink()));
    assert.equal(readdirSync(n.places.pstoreDir).length, fixture.pstore.length);
  });

  it("a kdump crash directory's dmesg (a real 6.12 kernel's, by makedumpfile): source kdump; a vmcore beside it is not read", async () => {
    const n = node({ live: false });
    const kdump = JSON.parse(
      readFileSync(new URL("../fixtures/real-kernels/kdump/6.12.100+deb12-amd64-sysrq.json", import.meta.url), "utf8"),
    ) as { kdump: { file: string; base64: string } };
    const crash = join(n.places.kdumpDir, kdump.kdump.file.replace("dmesg.", ""));
    mkdirSync(crash, { recursive: true });
    writeFileSync(join(crash, kdump.kdump.file), Buffer.from(kdump.kdump.base64, "base64"));
    writeFileSync(join(crash, "dump.202612070355"), "not a log");
    const s = sink();
    const result = await recoverLastWords(deps(n, s));
    assert.deepEqual([result.logs, result.created, result.problems], [1, 1, 0]);
    const [event] = [...s.events.values()] as [KernelPanicEvent];
    assert.equal(event.spec.source, "kdump");
    assert.match(event.metadata.name, /^node-7-kdump-[0-9a-f]{12}$/);
    assert.equal(event.spec.reason, "sysrq triggered crash");
    assert.equal(event.spec.cause, "sysrq: Trigger a crash");
  });

  it("names what it cannot read and goes on: an unreadable place, a file too large to be a record", async () => {
    const n = node();
    mkdirSync(join(n.places.pstoreArchiveDir, ".."), { recursive: true });
    writeFileSync(n.places.pstoreArchiveDir, "a file where a directory should be");
    const crash = join(n.places.kdumpDir, "202612070102");
    mkdirSync(crash, { recursive: true });
    writeFileSync(join(crash, "dmesg.202612070102"), Buffer.alloc(4 * 1024 * 1024 + 1, "x"));
    const s = sink();
    const result = await recoverLastWords(deps(n, s));
    assert.equal(result.problems, 2);
    assert.equal(result.created, 1);
  });
});
