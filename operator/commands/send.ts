// `lastgasp send`: replays a kernel log as netconsole packets, exactly as the kernel would send them. Its options
// go through the same settings parser as every other command (flags, LASTGASP_* variables, one error list).
import { readFileSync } from "node:fs";
import type { Command } from "./command.ts";
import {
  ConfigError,
  boolean,
  describeSettings,
  integer,
  resolveSettings,
  text,
  type Setting,
} from "../config/settings.ts";
import { encodeExtended, encodePlain } from "../netconsole/encode.ts";
import { sendDatagrams } from "../sender/send.ts";
import { reportStartFailure } from "./run.ts";

const sendSettings = {
  to: {
    name: "to",
    description: "The receiver, HOST:PORT (e.g. 127.0.0.1:6666 or [::1]:6666). Required.",
    default: "",
    parse: text,
  } satisfies Setting<string>,
  from: {
    name: "from",
    description:
      "Source address to send from (127.0.0.x can stand for a node's IP on loopback); the system's choice when empty.",
    default: "",
    parse: text,
  } satisfies Setting<string>,
  extended: {
    name: "extended",
    description: "Extended netconsole format (netconsole=+...).",
    default: false,
    parse: boolean,
  } satisfies Setting<boolean>,
  release: {
    name: "release",
    description: "Prepend this kernel release (netconsole=+r...); implies --extended.",
    default: "",
    parse: text,
  } satisfies Setting<string>,
  userdata: {
    name: "userdata",
    description: "A netconsole userdata entry KEY=VALUE (repeat the flag for more); implies --extended.",
    default: [],
    parse: (raw) => [parseUserdata(raw)],
    repeatable: true,
  } satisfies Setting<[string, string][]>,
  firstSeq: {
    name: "firstSeq",
    description: "printk sequence number of the first line.",
    default: 1,
    parse: integer(0, Number.MAX_SAFE_INTEGER),
  } satisfies Setting<number>,
  intervalMs: {
    name: "intervalMs",
    description: "Pause between packets, in milliseconds.",
    default: 0,
    parse: integer(0, 60_000),
  } satisfies Setting<number>,
};

const usage = `Usage: lastgasp send --to HOST:PORT [options] [FILE|-]

Replays a kernel log (a file, or stdin) as netconsole UDP packets, as the kernel would send them: plain mode
(console text in raw slices of at most 1000 bytes) or, with --extended, one record per packet with a printk
header, --release prepended and --userdata appended, fragmented with ncfrag when over 1000 bytes.

${describeSettings(sendSettings)}`;

export const sendCommand: Command = {
  usage,
  run: async (args) => {
    try {
      const { values, positionals } = resolveSettings(sendSettings, args, process.env);
      if (values.to === "") throw new ConfigError(["--to HOST:PORT is required"]);
      if (positionals.length > 1) throw new ConfigError([`expected at most one FILE, got ${positionals.join(" ")}`]);
      const file = positionals[0] ?? "-";
      const lines = readLog(file);
      const extended = values.extended || values.release !== "" || values.userdata.length > 0;
      const datagrams = extended
        ? encodeExtended(lines, {
            extended,
            firstSequence: values.firstSeq,
            userdata: Object.fromEntries(values.userdata),
            ...(values.release === "" ? {} : { release: values.release }),
          })
        : encodePlain(lines);
      await sendDatagrams(datagrams, {
        to: values.to,
        intervalMs: values.intervalMs,
        ...(values.from === "" ? {} : { from: values.from }),
      });
      process.stderr.write(`lastgasp send: sent ${datagrams.length} packets (${lines.length} lines) to ${values.to}\n`);
      return 0;
    } catch (err) {
      return reportStartFailure("send", err);
    }
  },
};

/** The log's lines; the error names the file. */
function readLog(file: string): string[] {
  try {
    return readFileSync(file === "-" ? 0 : file, "utf8")
      .replace(/\n$/, "")
      .split("\n");
  } catch (err) {
    throw new Error(`cannot read ${file === "-" ? "standard input" : file}: ${(err as Error).message}`, { cause: err });
  }
}

function parseUserdata(entry: string): [string, string] {
  const eq = entry.indexOf("=");
  if (eq <= 0) throw new Error(`expected KEY=VALUE, got ${JSON.stringify(entry)}`);
  return [entry.slice(0, eq), entry.slice(eq + 1)];
}
