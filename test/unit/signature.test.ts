// Crash signatures: the same bug gives the same signature on every node, boot, kernel build and netconsole mode;
// different bugs give different ones. Measured on syzkaller's real crash logs (grouped by syzkaller's own crash
// title) and on the panics captured from real Debian kernels (grouped by what was done to the guest).
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadPatterns } from "../../operator/panics/detector/patterns.ts";
import { scanLog } from "../../operator/panics/scan.ts";
import { MAX_TRACE_FRAMES, ReportFrames } from "../../operator/panics/report-frames.ts";
import { crashSignature } from "../../operator/panics/signature.ts";
import { testIngest } from "../harness/ingest.ts";
import { kernelLogsDir } from "../harness/kernel-logs.ts";
import { pairRates, type Labelled } from "../harness/signature-pairs.ts";

function syzkallerPanics(): Labelled[] {
  const dir = join(kernelLogsDir(), "syzkaller");
  const detector = { contextLines: 20, quietMs: 0, deadlineMs: 0, duplicateWindowMs: 600_000 };
  return readdirSync(dir).flatMap((file) => {
    const text = readFileSync(join(dir, file), "latin1");
    const bug = /^TITLE: (.*)$/m.exec(text)?.[1] ?? "";
    return scanLog(text, loadPatterns(), detector).map((d) => ({ name: file, bug, signature: crashSignature(d).id }));
  });
}

function realKernelPanics(): Labelled[] {
  const dir = new URL("../fixtures/real-kernels/", import.meta.url);
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .flatMap((file) => {
      const fixture = JSON.parse(readFileSync(new URL(file, dir), "utf8")) as {
        scenario: string;
        source: string;
        datagrams: { offsetMs: number; base64: string }[];
      };
      const { ingest, reports } = testIngest();
      for (const d of fixture.datagrams)
        ingest.datagram(fixture.source, Buffer.from(d.base64, "base64"), 1_000_000 + d.offsetMs);
      ingest.tick(1_060_000);
      return reports.map((r) => ({ name: file, bug: fixture.scenario, signature: crashSignature(r).id }));
    });
}

describe("crash signatures", () => {
  it("take the crash site from the first RIP, then the trace; skip guesses, offsets and clone suffixes", () => {
    const frames = new ReportFrames();
    for (const line of [
      " <TASK>",
      " dump_stack_lvl+0x44/0x5c",
      " ? __die+0x24/0x70",
      " ext4_mb_new_blocks.cold+0x12/0x40 [ext4]",
      " ext4_ext_map_blocks.isra.0+0x1a/0x80 [ext4]",
      " [<ffffffff81234567>] ext4_map_blocks+0x10/0x20",
      "RIP: 0010:__mem_cgroup_charge_noprof+0x16/0x20",
      "RIP: 0010:native_safe_halt+0xe/0x10",
      " entry_SYSCALL_64_after_hwframe+0x6e/0xd8",
      " xsk_setsockopt+0x1c0/0x2bc net/xdp/xsk.c:1080",
      "[<8040c8f4>] (kvfree) from [<829b9504>] (netdev_freemem+0x24/0x28)",
    ])
      frames.add(line);
    assert.deepEqual(frames.found(), {
      crashSite: "__mem_cgroup_charge",
      frames: [
        "dump_stack_lvl",
        "ext4_mb_new_blocks",
        "ext4_ext_map_blocks",
        "ext4_map_blocks",
        "entry_SYSCALL_64_after_hwframe",
        "xsk_setsockopt",
        "kvfree",
        "netdev_freemem",
      ],
    });
    const many = new ReportFrames();
    for (let i = 0; i < 50; i++) many.add(` f${i}+0x1/0x2`);
    assert.equal(many.found().frames.length, MAX_TRACE_FRAMES, "bounded, whatever the trace's length");
  });

  it("take only the reporting task's lines when the console says who printed each (another CPU's are interleaved)", () => {
    const frames = new ReportFrames("T16896");
    frames.add(" ext4_map_blocks+0x10/0x20", "T16896");
    frames.add(" account_entity_enqueue+0x97/0xc0", "C1");
    frames.add("RIP: 0010:native_safe_halt+0xe/0x10", "C1");
    frames.add(" ext4_writepages+0x10/0x20", "T16896");
    frames.add(" vfs_write+0x10/0x20");
    assert.deepEqual(frames.found(), { frames: ["ext4_map_blocks", "ext4_writepages", "vfs_write"] });
    const next = frames.copy("C0");
    next.add(" ext4_do_update_inode+0x1/0x2", "T16896");
    next.add(" panic+0x1/0x2", "C0");
    assert.deepEqual(next.found().frames.slice(3), ["panic"], "the copy follows the panic line's printer");
  });

  it("strip addresses, numbers and task names from the kind of crash", () => {
    const a = crashSignature({
      reason: "Fatal exception",
      cause: "BUG: unable to handle page fault for address: ffffc90000a5b000",
      frames: ["vfs_read"],
    });
    const b = crashSignature({
      reason: "Fatal exception in interrupt",
      cause: "BUG: unable to handle page fault for address: ffff888100000000",
      frames: ["vfs_read", "ksys_read"],
    });
    assert.equal(a.id, b.id);
    assert.equal(a.title, "BUG: unable to handle page fault for address in vfs_read");
    const hung = (task: string) =>
      crashSignature({
        reason: "hung_task: blocked tasks",
        cause: `INFO: task ${task} blocked for more than 120 seconds.`,
        frames: ["p9_fd_close"],
      });
    assert.equal(hung("kworker/0:1:12").id, hung("sh:345").id);
    assert.equal(hung("sh:345").title, "INFO: task hung in p9_fd_close");
    assert.notEqual(a.id, crashSignature({ reason: "Fatal exception", cause: a.kind, frames: ["vfs_write"] }).id);
    const bugAt = (line: number) =>
      crashSignature({
        reason: "Fatal exception",
        cause: `kernel BUG at mm/filemap.c:${line}!`,
        frames: ["filemap_fault"],
      });
    assert.equal(bugAt(1523).id, bugAt(1530).id, "the line number moves between builds");
    assert.equal(bugAt(1523).title, "kernel BUG at mm/filemap.c:N in filemap_fault");
  });

  for (const [corpus, load] of [
    ["syzkaller's crash logs", syzkallerPanics],
    ["panics captured from real 6.1 and 6.12 kernels", realKernelPanics],
  ] as const) {
    it(`${corpus}: the same bug shares a signature, different bugs do not`, (t) => {
      const panics = load();
      const r = pairRates(panics);
      t.diagnostic(
        `${panics.length} panics: same bug ${r.sameShared}/${r.same} pairs share a signature, ` +
          `different bugs ${r.differentApart}/${r.different} pairs differ`,
      );
      assert.ok(r.same > 0 && r.different > 0, "both kinds of pair are measured");
      assert.deepEqual(r.failures, []);
    });
  }
});
