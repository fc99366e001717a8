// The registry of subcommands. Each part of the operator (receiver, reconciler, …) adds one entry here.
import { agentCommand } from "./commands/agent.ts";
import { allCommand } from "./commands/all.ts";
import { receiverCommand } from "./commands/receiver.ts";
import { reconcilerCommand } from "./commands/reconciler.ts";
import { scanCommand } from "./commands/scan.ts";
import { sendCommand } from "./commands/send.ts";
import { waitDaemonSetCommand } from "./commands/wait-daemonset.ts";
export interface Command {
  /** The word after `lastgasp`. */
  readonly name: string;
  /** One line for `lastgasp --help`. */
  readonly summary: string;
  /** The command's options, printed by `lastgasp <command> --help`. */
  readonly usage: string;
  /** Runs the command; resolves to the process exit code. */
  run(args: string[]): Promise<number>;
}

export const commands: readonly Command[] = [
  receiverCommand,
  reconcilerCommand,
  allCommand,
  scanCommand,
  sendCommand,
  agentCommand,
  waitDaemonSetCommand,
];
