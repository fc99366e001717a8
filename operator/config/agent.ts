// The node agent's settings. Each maps one-to-one to a Helm value of the same name under `agent.config.`.
import { hostname } from "node:os";
import { hostPorts, kubeconfigSetting, logFormatSetting, logLevelSetting } from "./common.ts";
import { receiverSettings } from "./receiver.ts";
import { boolean, integer, text, type Setting } from "./settings.ts";

/** host:port of each receiver; host may be a DNS name (resolved again at every check). */
function receivers(raw: string): string[] {
  const parsed = hostPorts(raw);
  // netconsole has no fixed limit on targets, but each one costs the dying kernel a send per line.
  if (parsed.length > 8) throw new Error("at most 8 receivers");
  return parsed;
}

export const agentSettings = {
  receivers: {
    name: "receivers",
    description:
      "Receiver addresses netconsole sends to (comma-separated host:port; [v6]:port for IPv6). Required: a real, routable address (netconsole bypasses kube-proxy).",
    default: [] as string[],
    defaultText: "none",
    parse: receivers,
  } satisfies Setting<string[]>,
  nodeName: {
    name: "nodeName",
    description: "This node's Kubernetes name, sent as netconsole userdata node=.",
    default: process.env.NODE_NAME ?? hostname(),
    defaultText: "$NODE_NAME or the host name",
    parse: text,
  } satisfies Setting<string>,
  sourceIp: {
    name: "sourceIp",
    description:
      "Source address of netconsole packets: the Node's address the receiver matches. The route's preferred source when empty.",
    default: process.env.HOST_IP ?? "",
    defaultText: "$HOST_IP, else the route's preferred source",
    parse: text,
  } satisfies Setting<string>,
  localPort: {
    name: "localPort",
    description: "Source UDP port of netconsole packets.",
    default: 6665,
    parse: integer(1, 65_535),
  } satisfies Setting<number>,
  configfsRoot: {
    name: "configfsRoot",
    description: "Where configfs is mounted; targets live in its netconsole/ directory.",
    default: "/sys/kernel/config",
    parse: text,
  } satisfies Setting<string>,
  kmsgPath: {
    name: "kmsgPath",
    description: "The kernel log device the self-test line is written to.",
    default: "/dev/kmsg",
    parse: text,
  } satisfies Setting<string>,
  printkPath: {
    name: "printkPath",
    description: "The printk sysctl; its first field (console loglevel) decides the self-test line's level.",
    default: "/proc/sys/kernel/printk",
    parse: text,
  } satisfies Setting<string>,
  bootIdPath: {
    name: "bootIdPath",
    description: "This boot's id, sent as netconsole userdata boot_id=.",
    default: "/proc/sys/kernel/random/boot_id",
    parse: text,
  } satisfies Setting<string>,
  loadModule: {
    name: "loadModule",
    description: "Run `modprobe netconsole` when configfs has no netconsole directory.",
    default: true,
    parse: boolean,
  } satisfies Setting<boolean>,
  checkIntervalSeconds: {
    name: "checkIntervalSeconds",
    description: "How often the route, neighbour and target are checked again (and re-applied when changed).",
    default: 30,
    parse: integer(1, 3600),
  } satisfies Setting<number>,
  selfTest: {
    name: "selfTest",
    description:
      "Write the self-test line to the kernel log (needs write access to /dev/kmsg); without it the node is never shown as covered.",
    default: true,
    parse: boolean,
  } satisfies Setting<boolean>,
  selfTestIntervalSeconds: {
    name: "selfTestIntervalSeconds",
    description:
      "How often the self-test line is written while nothing changes (it is also written after every change). Keep it well under the reconciler's netconsoleSilentAfterSeconds.",
    default: 300,
    parse: integer(10, 86_400),
  } satisfies Setting<number>,
  neighbourTimeoutMs: {
    name: "neighbourTimeoutMs",
    description: "How long the next hop's MAC is waited for after probing it.",
    default: 3000,
    parse: integer(100, 60_000),
  } satisfies Setting<number>,
  lastWords: {
    name: "lastWords",
    description:
      "At start, report each panic the node kept in pstore or kdump's crash directory (one lost to netconsole) as a KernelPanicEvent: needs the chart's agent ServiceAccount.",
    default: true,
    parse: boolean,
  } satisfies Setting<boolean>,
  pstoreDir: {
    name: "pstoreDir",
    description: "pstore's filesystem: the records the kernel kept (ramoops, EFI, ERST, pstore/blk).",
    default: "/sys/fs/pstore",
    parse: text,
  } satisfies Setting<string>,
  pstoreArchiveDir: {
    name: "pstoreArchiveDir",
    description: "systemd-pstore's archive, where it moves pstore's records at boot (one directory each).",
    default: "/var/lib/systemd/pstore",
    parse: text,
  } satisfies Setting<string>,
  kdumpDir: {
    name: "kdumpDir",
    description: "kdump's crash directory: one directory per crash, with vmcore-dmesg.txt or dmesg.<time>.",
    default: "/var/crash",
    parse: text,
  } satisfies Setting<string>,
  sysRoot: {
    name: "sysRoot",
    description:
      "Where sysfs is: the pstore backend (module/pstore/parameters/backend) and kdump (kernel/kexec_crash_loaded) are read there for the Node's lastgasp.dev/last-words.",
    default: "/sys",
    parse: text,
  } satisfies Setting<string>,
  reportedFile: {
    name: "reportedFile",
    description:
      "Where the agent remembers the recovered panics it reported, so that a restart does not report them again; none when empty.",
    default: "/var/lib/lastgasp/reported-panics.json",
    parse: text,
  } satisfies Setting<string>,
  erasePstore: {
    name: "erasePstore",
    description:
      "Remove a record from pstore's filesystem once its event exists, freeing the backend for the next crash. Off: leave that to systemd-pstore (which moves records into its archive at boot).",
    default: false,
    parse: boolean,
  } satisfies Setting<boolean>,
  patternsFile: receiverSettings.patternsFile,
  contextLines: receiverSettings.contextLines,
  kubeconfig: kubeconfigSetting,
  logLevel: logLevelSetting,
  logFormat: logFormatSetting,
};
