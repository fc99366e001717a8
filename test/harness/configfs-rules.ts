// The netconsole configfs rules our kernel model (netconsole-kernel.ts) claims, as sequences of operations that
// run both against the model and against a real kernel's configfs (test/kernel/guest/configfs-probe.ts in a
// guest): each operation's outcome (done, or the errno the kernel refused it with) must be the same.
import type { Attribute, ConfigfsOp, ObservedTarget } from "../../operator/agent/target.ts";
import { KernelError, NetconsoleKernelModel } from "./netconsole-kernel.ts";

/** Where the probe's targets send (the host's discard port, so nothing reaches the receiver twice). */
export interface ProbeNetwork {
  readonly localIp: string;
  readonly remoteIp: string;
  readonly remoteMac: string;
}

export interface RuleProbe {
  readonly rule: string;
  readonly ops: readonly ConfigfsOp[];
}

/** An operation's outcome: "ok", or the errno code it was refused with. */
export type Outcome = string;

export interface ProbeResult {
  readonly rule: string;
  readonly outcomes: readonly Outcome[];
  /** The target's attributes as read right after it was created. */
  readonly created: Readonly<Partial<Record<Attribute, string>>>;
}

/** What the guest's probe writes: the targets it found (the agent's), then each rule's outcomes. */
export interface ProbeReport {
  readonly targets: Readonly<Record<string, ObservedTarget>>;
  readonly rules: readonly ProbeResult[];
}

const mkdir = (path: string): ConfigfsOp => ({ op: "mkdir", path });
const rmdir = (path: string): ConfigfsOp => ({ op: "rmdir", path });
const write = (path: string, value: string): ConfigfsOp => ({ op: "write", path, value });

function usable(t: string, net: ProbeNetwork): ConfigfsOp[] {
  return [
    mkdir(t),
    write(`${t}/dev_name`, "eth0"),
    write(`${t}/local_port`, "6664"),
    write(`${t}/local_ip`, net.localIp),
    write(`${t}/remote_ip`, net.remoteIp),
    write(`${t}/remote_port`, "9"),
    write(`${t}/remote_mac`, net.remoteMac),
  ];
}

export function ruleProbes(net: ProbeNetwork): RuleProbe[] {
  return [
    {
      rule: "attributes but enabled are refused while enabled; enabled refuses the value it has",
      ops: [
        ...usable("p-enabled", net),
        write("p-enabled/enabled", "1"),
        write("p-enabled/remote_port", "10"),
        write("p-enabled/extended", "1"),
        write("p-enabled/enabled", "1"),
        write("p-enabled/enabled", "0"),
        write("p-enabled/enabled", "0"),
        write("p-enabled/remote_port", "10"),
        rmdir("p-enabled"),
      ],
    },
    {
      rule: "release needs extended when the target is enabled",
      ops: [
        ...usable("p-release", net),
        write("p-release/release", "1"),
        write("p-release/enabled", "1"),
        write("p-release/extended", "1"),
        write("p-release/enabled", "1"),
        write("p-release/enabled", "0"),
        rmdir("p-release"),
      ],
    },
    {
      rule: "userdata changes while enabled; a target with userdata entries cannot be removed",
      ops: [
        ...usable("p-userdata", net),
        write("p-userdata/enabled", "1"),
        mkdir("p-userdata/userdata/node"),
        write("p-userdata/userdata/node/value", "a"),
        write("p-userdata/userdata/node/value", "b"),
        rmdir("p-userdata"),
        write("p-userdata/enabled", "0"),
        rmdir("p-userdata"),
        rmdir("p-userdata/userdata/node"),
        rmdir("p-userdata"),
      ],
    },
    {
      rule: "an enabled target is removed",
      ops: [...usable("p-remove", net), write("p-remove/enabled", "1"), rmdir("p-remove")],
    },
    {
      rule: "userdata limits: key length, value length, number of entries",
      ops: [
        mkdir("p-limits"),
        mkdir(`p-limits/userdata/${"k".repeat(53)}`),
        mkdir(`p-limits/userdata/${"k".repeat(54)}`),
        write(`p-limits/userdata/${"k".repeat(53)}/value`, "v".repeat(199)),
        write(`p-limits/userdata/${"k".repeat(53)}/value`, "v".repeat(200)),
        write(`p-limits/userdata/${"k".repeat(53)}/value`, "v".repeat(201)),
        ...Array.from({ length: 16 }, (_, i) => mkdir(`p-limits/userdata/k${i}`)),
        ...Array.from({ length: 16 }, (_, i) => rmdir(`p-limits/userdata/k${i}`)),
        rmdir(`p-limits/userdata/${"k".repeat(53)}`),
        rmdir("p-limits"),
      ],
    },
  ];
}

/** What configfs a probe runs against: the agent's NetconsoleConfigfs in a guest, or the model. */
export interface ProbeStore {
  apply(ops: readonly ConfigfsOp[]): Promise<void>;
  read(name: string): Promise<ObservedTarget>;
}

/** Applies each probe's operations one at a time; `refusal` names an error's errno (or rethrows what is not one). */
export async function runProbes(
  probes: readonly RuleProbe[],
  store: ProbeStore,
  refusal: (err: unknown) => Outcome,
): Promise<ProbeResult[]> {
  const results: ProbeResult[] = [];
  for (const probe of probes) {
    const outcomes: Outcome[] = [];
    let created: ProbeResult["created"] = {};
    for (const op of probe.ops) {
      try {
        await store.apply([op]);
        outcomes.push("ok");
      } catch (err) {
        outcomes.push(refusal(err));
      }
      if (op === probe.ops[0]) created = (await store.read(op.path)).attributes;
    }
    results.push({ rule: probe.rule, outcomes, created });
  }
  return results;
}

/** What the model makes of the probes (a fresh model per kernel's features). */
export async function modelResults(
  probes: readonly RuleProbe[],
  features: { release: boolean; userdata: boolean },
): Promise<ProbeResult[]> {
  return runProbes(probes, new NetconsoleKernelModel(features), (err) => {
    if (!(err instanceof KernelError)) throw err;
    return err.code;
  });
}
