// The Argo CD health check for KernelPanicEvents, run the way Argo CD runs it: under gopher-lua (Lua 5.1, the
// engine Argo CD embeds), with each case of health_test.yaml (Argo CD's own test layout) as the global `obj`.
// No cluster is needed; it is in this tier because the interpreter is built from Go modules like the control plane.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { REASONS } from "../../operator/reconciler/status/conditions.ts";
import { ensureBinaries, required } from "../harness/binaries.ts";

const dir = fileURLToPath(
  new URL("../../examples/argocd/resource_customizations/lastgasp.dev/KernelPanicEvent/", import.meta.url),
);
interface HealthCase {
  readonly healthStatus: { status: string; message: string };
  readonly inputPath: string;
}
const cases = (parse(readFileSync(join(dir, "health_test.yaml"), "utf8")) as { tests: HealthCase[] }).tests;

/** A Lua table constructor for a YAML value (null is nil: the key is left out, as Argo CD's conversion does). */
function luaValue(value: unknown): string {
  if (value === null || value === undefined) return "nil";
  if (typeof value === "string") return luaString(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `{${value.map(luaValue).join(", ")}}`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== null);
  return `{${entries.map(([k, v]) => `[${luaString(k)}] = ${luaValue(v)}`).join(", ")}}`;
}

/** A Lua 5.1 string literal: printable ASCII as is, every other byte of the UTF-8 as a decimal escape. */
function luaString(text: string): string {
  const bytes = [...Buffer.from(text, "utf8")];
  const printable = (b: number) => b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c;
  return `"${bytes.map((b) => (printable(b) ? String.fromCharCode(b) : `\\${String(b).padStart(3, "0")}`)).join("")}"`;
}

let glua: string;
let work: string;

before(async () => {
  glua = required(await ensureBinaries(["lua"]), "GLUA");
  work = mkdtempSync(join(tmpdir(), "lastgasp-lua-"));
});
after(() => {
  rmSync(work, { recursive: true, force: true });
});

async function health(object: unknown): Promise<{ status: string; message: string }> {
  const script = join(work, "case.lua");
  writeFileSync(
    script,
    [
      `obj = ${luaValue(object)}`,
      `local hs = assert(loadfile(${luaString(join(dir, "health.lua"))}))()`,
      `io.write(hs.status, "\\n", hs.message, "\\n")`,
    ].join("\n"),
  );
  const { stdout } = await promisify(execFile)(glua, [script]);
  const [status, message] = stdout.split("\n");
  return { status: status!, message: message! };
}

describe("Argo CD health check (health.lua, health_test.yaml)", () => {
  for (const c of cases) {
    it(`${c.inputPath} is ${c.healthStatus.status}`, async () => {
      const object = parse(readFileSync(join(dir, c.inputPath), "utf8")) as unknown;
      assert.deepEqual(await health(object), c.healthStatus);
    });
  }

  it("has a case for every reason the Remediated condition can have", () => {
    const covered = new Set(
      cases.map(
        (c) =>
          (
            parse(readFileSync(join(dir, c.inputPath), "utf8")) as {
              status?: { conditions?: { type: string; reason: string }[] };
            }
          ).status?.conditions?.find((x) => x.type === "Remediated")?.reason,
      ),
    );
    const waitingOrFinal = [
      REASONS.inProgress,
      REASONS.waitingForLease,
      REASONS.stormGuard,
      REASONS.approvalRequired,
      REASONS.cascadeSuspected,
      REASONS.remediated,
      REASONS.dryRun,
      REASONS.nodeNotFound,
      REASONS.nodeAlive,
    ];
    assert.deepEqual(
      waitingOrFinal.filter((r) => !covered.has(r)),
      [],
    );
  });
});
