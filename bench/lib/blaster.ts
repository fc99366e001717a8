// Drives ../probes/blaster.c (built here with the system's C compiler on first use): S4's load generator when
// the rates it must offer are past what Node's dgram sends from one CPU. Same sources, chatter and panics as
// ../probes/loadgen.ts, behind the same LoadGenerator interface.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { LoadGenerator } from "./loadgen.ts";
import { encodePanic } from "./panics.ts";

const source = fileURLToPath(new URL("../probes/blaster.c", import.meta.url));

/** `sources` sockets bound to 127.<octet>.x.y, sending to 127.0.0.1:<port>; pinned to `cpu` when given. */
export async function startBlaster(port: number, sources: number, octet: number, cpu?: number): Promise<LoadGenerator> {
  const dir = mkdtempSync(join(tmpdir(), "lastgasp-blaster-"));
  const binary = join(dir, "blaster");
  execFileSync("cc", ["-O2", "-Wall", "-Werror", "-o", binary, source]);
  const command = [binary, String(port), String(sources), String(octet)];
  const pinned = cpu === undefined ? command : ["taskset", "-c", String(cpu), ...command];
  const child = spawn(pinned[0]!, pinned.slice(1), { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (when: string): Promise<string> => {
    const line = await lines.next();
    if (line.done === true) throw new Error(`blaster exited ${when}`);
    return line.value;
  };
  if ((await next("during start-up")) !== "ready") throw new Error("blaster did not start");
  let run = 0;
  return {
    run: async (request) => {
      let panics = "-";
      if (request.panicSources.length > 0) {
        panics = join(dir, `panics-${run++}.bin`);
        writeFileSync(panics, Buffer.concat(request.panicSources.flatMap((s) => panicRecords(s))));
      }
      child.stdin.write(`${request.rate} ${request.durationMs} ${panics}\n`);
      const [sent = "0", elapsedMs = "0"] = (await next("during a run")).split(" ");
      return { sent: Number(sent), elapsedMs: Number(elapsedMs) };
    },
    stop: () => {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A whole panic log from `source`, as the blaster's panic file holds it: [u32 source][u32 length][bytes]. */
function panicRecords(source: number): Buffer[] {
  const { datagrams } = encodePanic({ mode: source % 2 === 0 ? "extended" : "plain", ending: "hang" });
  return datagrams.map((d) => {
    const header = Buffer.alloc(8);
    header.writeUInt32LE(source, 0);
    header.writeUInt32LE(d.length, 4);
    return Buffer.concat([header, d]);
  });
}
