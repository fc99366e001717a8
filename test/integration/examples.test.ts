// The documented example, applied as its header says (create, then its status through the status subresource),
// shows in `kubectl get kpe -o wide` exactly as the README's sample says (AGE aside): the sample is a real run's.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { ensureBinaries, required } from "../harness/binaries.ts";
import { testKubeconfigPath } from "../harness/cluster.ts";

const exec = promisify(execFile);
const example = fileURLToPath(new URL("../../examples/kernelpanicevent.yaml", import.meta.url));
const readme = readFileSync(fileURLToPath(new URL("../../README.md", import.meta.url)), "utf8");
const name = (parse(readFileSync(example, "utf8")) as { metadata: { name: string } }).metadata.name;

/** The README's console sample for `command`: the lines after `$ command` up to the block's end. */
function sample(command: string): string[] {
  const start = readme.indexOf(`$ ${command}\n`);
  assert.ok(start !== -1, `the README shows ${command}`);
  const block = readme.slice(start + command.length + 3, readme.indexOf("```", start));
  return block.trimEnd().split("\n");
}

/** A table's rows as columns, cut where the header's titles start; the AGE column (a duration) left out. */
function table(lines: string[]): string[][] {
  const header = lines[0]!;
  const starts = [...header.matchAll(/(?:^|(?<= {2}))\S/g)].map((m) => m.index);
  const cells = (line: string) => starts.map((start, i) => line.slice(start, starts[i + 1]).trim());
  const age = cells(header).indexOf("AGE");
  return lines.map((line) => cells(line).filter((_, i) => i !== age));
}

describe("examples/kernelpanicevent.yaml, applied as documented", () => {
  let kubectl: (...args: string[]) => Promise<string>;
  before(async () => {
    const binary = required(await ensureBinaries(["kubernetes"]), "KUBECTL");
    kubectl = async (...args) =>
      (await exec(binary, ["--kubeconfig", testKubeconfigPath(), ...args], { maxBuffer: 1 << 20 })).stdout;
  });
  after(async () => {
    await kubectl("delete", "kpe", name, "--ignore-not-found");
  });

  it("keeps its status, and kubectl get kpe -o wide shows what the README shows", async () => {
    await kubectl("create", "-f", example);
    await kubectl("apply", "--server-side", "--subresource=status", "-f", example);
    const status = JSON.parse(await kubectl("get", "kpe", name, "-o", "jsonpath={.status}")) as { nodeName: string };
    assert.equal(status.nodeName, "ip-10-0-1-23", "the status was written");
    const shown = (await kubectl("get", "kpe", name, "-o", "wide")).trimEnd().split("\n");
    const documented = sample("kubectl get kpe -o wide");
    assert.deepEqual(table(documented), table(shown));
  });
});
