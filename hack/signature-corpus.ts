// Measures crash signatures against a directory of syzkaller-style crash logs (a `TITLE:` header, a blank line,
// the console log): over every pair of panicking logs, how many with the same title share a signature and how
// many with different titles do not. syzkaller's own corpus (pkg/report/testdata/linux/report/ in
// google/syzkaller, Apache-2.0) is the reference: 747 logs, of which test/fixtures/kernel-logs holds 105.
// Titles syzkaller itself calls corrupted ("… in corrupted", `CORRUPTED: Y`) name no bug and are left out unless
// --with-corrupted. docs/signatures.md records what it printed.
//
//   node hack/signature-corpus.ts DIR [--with-corrupted] [--list]
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadPatterns } from "../operator/panics/detector/patterns.ts";
import { scanLog } from "../operator/panics/scan.ts";
import { crashSignature } from "../operator/panics/signature.ts";
import { pairRates, type Labelled } from "../test/harness/signature-pairs.ts";

const DETECTOR = { contextLines: 20, quietMs: 0, deadlineMs: 0, duplicateWindowMs: 600_000 };

function load(dir: string, withCorrupted: boolean): Labelled[] {
  const patterns = loadPatterns();
  return readdirSync(dir).flatMap((file) => {
    const text = readFileSync(join(dir, file), "latin1");
    const bug = /^TITLE: (.*)$/m.exec(text)?.[1] ?? "";
    const corrupted = bug === "" || / in corrupted$|^corrupted/.test(bug) || /^CORRUPTED: Y$/m.test(text);
    if (corrupted && !withCorrupted) return [];
    const [panic] = scanLog(text, patterns, DETECTOR);
    if (panic === undefined) return [];
    const signature = crashSignature(panic);
    return [{ name: file, bug, signature: signature.id, title: signature.title }];
  });
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { "with-corrupted": { type: "boolean" }, list: { type: "boolean" } },
  });
  const dir = positionals[0];
  if (dir === undefined) throw new Error("usage: node hack/signature-corpus.ts DIR [--with-corrupted] [--list]");
  const panics = load(dir, values["with-corrupted"] === true);
  const { same, sameShared: shared, different, differentApart: apart, failures: misses } = pairRates(panics);
  console.log(`${panics.length} panicking logs`);
  console.log(`same bug:       ${shared}/${same} pairs share a signature`);
  console.log(`different bugs: ${apart}/${different} pairs differ (${((100 * apart) / different).toFixed(2)} %)`);
  if (values.list === true) for (const miss of misses) console.log(miss);
}

main();
