// The lastgasp command line: one binary whose subcommands run each part of the operator.
// Every subcommand lives in its own module and is listed in `commands` below; this file only dispatches.
import { parseArgs } from "node:util";
import { commands } from "./commands.ts";
import { VERSION } from "./version.ts";

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "version") {
    process.stdout.write(`lastgasp ${VERSION} (node ${process.version})\n`);
    return 0;
  }
  const entry = commands.find((c) => c.name === name);
  if (entry === undefined) {
    process.stderr.write(`lastgasp: unknown command '${name}'. Run 'lastgasp --help' for the list.\n`);
    return 2;
  }
  const command = await entry.load();
  if (wantsHelp(rest)) {
    process.stdout.write(`lastgasp ${entry.name}: ${entry.summary}\n\n${command.usage}\n`);
    return 0;
  }
  return command.run(rest);
}

function wantsHelp(args: string[]): boolean {
  try {
    const { values } = parseArgs({ args, strict: false, options: { help: { type: "boolean", short: "h" } } });
    return values.help === true;
  } catch {
    return false;
  }
}

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    `lastgasp ${VERSION}: turns a node's kernel panic, heard over netconsole, into failed, explained pods.`,
    "",
    "Usage: lastgasp <command> [options]",
    "",
    "Commands:",
    ...lines,
    "",
    "Run 'lastgasp <command> --help' for a command's options.",
    "",
  ].join("\n");
}
