// The registry of subcommands. Each part of the operator (receiver, reconciler, …) adds one entry here. A
// command's module is loaded only when it runs: the agent, on every node, loads the Kubernetes client only for
// lastWords (on a node that is a third of the start-up time and memory).
import type { Command } from "./commands/command.ts";

export interface CommandEntry {
  /** The word after `lastgasp`. */
  readonly name: string;
  /** One line for `lastgasp --help`. */
  readonly summary: string;
  load(): Promise<Command>;
}

export const commands: readonly CommandEntry[] = [
  {
    name: "receiver",
    summary: "Hear netconsole traffic and record each kernel panic as a KernelPanicEvent.",
    load: async () => (await import("./commands/receiver.ts")).receiverCommand,
  },
  {
    name: "reconciler",
    summary: "Fail, explain and delete the pods of each panicked node, then remove the node.",
    load: async () => (await import("./commands/reconciler.ts")).reconcilerCommand,
  },
  {
    name: "all",
    summary: "Run receiver and reconciler in one process (small clusters).",
    load: async () => (await import("./commands/all.ts")).allCommand,
  },
  {
    name: "scan",
    summary: "Detect kernel panics in a kernel log file (or stdin) with the receiver's detector; prints JSON.",
    load: async () => (await import("./commands/scan.ts")).scanCommand,
  },
  {
    name: "coverage",
    summary: "List every node with the last words it keeps: netconsole, pstore, kdump.",
    load: async () => (await import("./commands/coverage.ts")).coverageCommand,
  },
  {
    name: "why",
    summary: "Say why a pod went away: the node, the panic and what lastgasp did, from the records that outlive it.",
    load: async () => (await import("./commands/why.ts")).whyCommand,
  },
  {
    name: "send",
    summary: "Replay a kernel log as netconsole UDP packets, as the kernel sends them (for tests and demos).",
    load: async () => (await import("./commands/send.ts")).sendCommand,
  },
  {
    name: "agent",
    summary: "Configure this node's netconsole to send to the receivers, and keep it so (run on every node).",
    load: async () => (await import("./commands/agent.ts")).agentCommand,
  },
  {
    name: "wait-daemonset",
    summary: "Wait until every pod of a DaemonSet is ready (the chart's uninstall hook).",
    load: async () => (await import("./commands/wait-daemonset.ts")).waitDaemonSetCommand,
  },
];
