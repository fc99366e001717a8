// Which last words a node keeps besides netconsole (operator/api/last-words.ts, operator/agent/
// last-words-coverage.ts): read from a stand-in sysfs as the kernel lays it out, written as the Node annotation's
// value and read back; what is not one of ours reads as nothing said.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { readLastWordsCoverage } from "../../operator/agent/last-words-coverage.ts";
import { formatLastWords, parseLastWords } from "../../operator/api/last-words.ts";

const roots: string[] = [];
after(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

function sysfs(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "lastgasp-sysfs-"));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe("the last words a node keeps besides netconsole", () => {
  it("ramoops with its record size, and a kdump kernel loaded", () => {
    const root = sysfs({
      "module/pstore/parameters/backend": "ramoops\n",
      "module/ramoops/parameters/record_size": "131072\n",
      "kernel/kexec_crash_loaded": "1\n",
    });
    const coverage = readLastWordsCoverage(root);
    assert.deepEqual(coverage, { pstore: { backend: "ramoops", recordBytes: 131072 }, kdump: true });
    assert.equal(formatLastWords(coverage), "pstore=ramoops/131072 kdump=loaded");
    assert.deepEqual(parseLastWords(formatLastWords(coverage)), coverage);
  });

  it("EFI variables (no record size said), no kdump kernel", () => {
    const root = sysfs({ "module/pstore/parameters/backend": "efi_pstore\n", "kernel/kexec_crash_loaded": "0\n" });
    assert.equal(formatLastWords(readLastWordsCoverage(root)), "pstore=efi_pstore kdump=none");
  });

  it("pstore without a backend ((null)), and a kernel without pstore or kexec at all: none, not an error", () => {
    const unregistered = sysfs({ "module/pstore/parameters/backend": "(null)\n" });
    assert.equal(formatLastWords(readLastWordsCoverage(unregistered)), "pstore=none kdump=none");
    assert.equal(formatLastWords(readLastWordsCoverage(sysfs({}))), "pstore=none kdump=none");
  });

  it("reads anything else in the annotation as nothing said", () => {
    for (const value of [undefined, "", "pstore=ramoops", "pstore=RAM kdump=none", "kdump=loaded pstore=none", "x"])
      assert.equal(parseLastWords(value), undefined, String(value));
    assert.deepEqual(parseLastWords("pstore=none kdump=loaded"), { kdump: true });
  });
});
