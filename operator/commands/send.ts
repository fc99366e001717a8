// `lastgasp send`: replays a kernel log as netconsole packets, exactly as the kernel would send them.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { Command } from "./command.ts";
import { encodeExtended, encodePlain } from "../netconsole/encode.ts";
import { sendDatagrams } from "../sender/send.ts";
import { reportStartFailure } from "./run.ts";

const usage = `Usage: lastgasp send --to HOST:PORT [--from ADDR] [--extended] [--release R] [--userdata k=v]... [--interval-ms N] [FILE|-]

Replays a kernel log (a file, or stdin) as netconsole UDP packets, as the kernel would send them: plain mode
(console text in raw slices of at most 1000 bytes) or, with --extended, one record per packet with a printk
header, --release prepended and --userdata appended, fragmented with ncfrag when over 1000 bytes.

  --to HOST:PORT      the receiver, e.g. 127.0.0.1:6666 or [::1]:6666
  --from ADDR         source address to send from (127.0.0.x can stand for a node's IP on loopback)
  --extended          extended netconsole format (netconsole=+...)
  --release R         prepend kernel release R (netconsole=+r...); implies --extended
  --userdata K=V      netconsole userdata entry (repeatable); implies --extended
  --first-seq N       printk sequence number of the first line (default 1)
  --interval-ms N     pause between packets (default 0)`;

export const sendCommand: Command = {
  usage,
  run: async (args) => {
    try {
      const { values, positionals } = parseArgs({
        args,
        allowPositionals: true,
        options: {
          to: { type: "string" },
          from: { type: "string" },
          extended: { type: "boolean", default: false },
          release: { type: "string" },
          userdata: { type: "string", multiple: true, default: [] },
          "first-seq": { type: "string", default: "1" },
          "interval-ms": { type: "string", default: "0" },
        },
      });
      if (values.to === undefined) throw new Error("--to HOST:PORT is required");
      if (positionals.length > 1) throw new Error("expected at most one FILE");
      const userdata = Object.fromEntries(values.userdata.map(parseUserdata));
      const extended = values.extended || values.release !== undefined || values.userdata.length > 0;
      const lines = readFileSync(positionals[0] === undefined || positionals[0] === "-" ? 0 : positionals[0], "utf8")
        .replace(/\n$/, "")
        .split("\n");
      const firstSequence = wholeNumber(values["first-seq"], "--first-seq");
      const datagrams = extended
        ? encodeExtended(lines, {
            extended,
            firstSequence,
            userdata,
            ...(values.release === undefined ? {} : { release: values.release }),
          })
        : encodePlain(lines);
      await sendDatagrams(datagrams, {
        to: values.to,
        intervalMs: wholeNumber(values["interval-ms"], "--interval-ms"),
        ...(values.from === undefined ? {} : { from: values.from }),
      });
      process.stderr.write(`lastgasp send: sent ${datagrams.length} packets (${lines.length} lines) to ${values.to}\n`);
      return 0;
    } catch (err) {
      return reportStartFailure("send", err);
    }
  },
};

function parseUserdata(entry: string): [string, string] {
  const eq = entry.indexOf("=");
  if (eq <= 0) throw new Error(`--userdata expects KEY=VALUE, got ${JSON.stringify(entry)}`);
  return [entry.slice(0, eq), entry.slice(eq + 1)];
}

function wholeNumber(raw: string, flag: string): number {
  if (!/^\d+$/.test(raw)) throw new Error(`${flag} expects a whole number, got ${JSON.stringify(raw)}`);
  return Number(raw);
}
