// What every subcommand module exports. It lives here, not in the registry (commands.ts), so that the
// registry imports the commands and nothing imports back.
export interface Command {
  /** The command's options, printed by `lastgasp <command> --help`. */
  readonly usage: string;
  /** Runs the command; resolves to the process exit code. */
  run(args: string[]): Promise<number>;
}
