// The receiver's settings. Each maps one-to-one to a Helm value of the same name under `receiver.`.
import { hostname } from "node:os";
import { hostPorts, httpAddressSetting, kubeconfigSetting, logFormatSetting, logLevelSetting } from "./common.ts";
import { LIMITS } from "../api/kernelpanicevent.ts";
import { SourceAllowList } from "../net/addresses.ts";
import { boolean, integer, list, oneOf, text, type Setting } from "./settings.ts";

export const receiverSettings = {
  listen: {
    name: "listen",
    description: "UDP addresses to hear netconsole on (comma-separated host:port; [::]:6666 for IPv6).",
    default: ["0.0.0.0:6666", "[::]:6666"],
    parse: hostPorts,
  } satisfies Setting<string[]>,
  httpAddress: httpAddressSetting("0.0.0.0:8080"),
  kubeconfig: kubeconfigSetting,
  patternsFile: {
    name: "patternsFile",
    description: "YAML file of detection patterns; the built-in defaults when empty.",
    default: "",
    parse: text,
  } satisfies Setting<string>,
  contextLines: {
    name: "contextLines",
    description: "Lines of context recorded per panic.",
    default: 20,
    parse: integer(1, LIMITS.contextLines),
  } satisfies Setting<number>,
  contextQuietMs: {
    name: "contextQuietMs",
    description: "A panic's context is complete once its source is quiet this long.",
    default: 200,
    parse: integer(10, 5000),
  } satisfies Setting<number>,
  contextDeadlineMs: {
    name: "contextDeadlineMs",
    description:
      "A panic's context is complete this long after the panic line at the latest (keep it under 1000 so the event exists within 1 s).",
    default: 750,
    parse: integer(10, 10_000),
  } satisfies Setting<number>,
  duplicateWindowSeconds: {
    name: "duplicateWindowSeconds",
    description: "A repeated panic line without sequence number or timestamp is the same panic within this window.",
    default: 600,
    parse: integer(1, 86_400),
  } satisfies Setting<number>,
  allowedSourceCidrs: {
    name: "allowedSourceCidrs",
    description: "Only accept packets from these networks (comma-separated CIDRs); every source when empty.",
    default: [] as string[],
    parse: (raw) => {
      const cidrs = list(raw);
      new SourceAllowList(cidrs); // throws on a malformed entry
      return cidrs;
    },
  } satisfies Setting<string[]>,
  maxSources: {
    name: "maxSources",
    description: "Sources (node addresses) tracked at once; the least recently heard is evicted beyond.",
    default: 10_000,
    parse: integer(1, 1_000_000),
  } satisfies Setting<number>,
  sourceIdleSeconds: {
    name: "sourceIdleSeconds",
    description: "Forget a source not heard from for this long.",
    default: 600,
    parse: integer(1, 86_400),
  } satisfies Setting<number>,
  maxLineLength: {
    name: "maxLineLength",
    description: "Longest console line kept; longer lines are cut.",
    default: LIMITS.contextLine,
    parse: integer(80, LIMITS.contextLine),
  } satisfies Setting<number>,
  maxFragmentedRecordBytes: {
    name: "maxFragmentedRecordBytes",
    description: "Largest record reassembled from ncfrag fragments.",
    default: 8192,
    parse: integer(1000, 65_536),
  } satisfies Setting<number>,
  fragmentTimeoutMs: {
    name: "fragmentTimeoutMs",
    description: "How long an incomplete fragmented record is kept.",
    default: 200,
    parse: integer(10, 10_000),
  } satisfies Setting<number>,
  sourceRatePerSecond: {
    name: "sourceRatePerSecond",
    description: "Sustained packets per second accepted from one source.",
    default: 1000,
    parse: integer(1, 1_000_000),
  } satisfies Setting<number>,
  sourceRateBurst: {
    name: "sourceRateBurst",
    description: "Packets one source may send in a burst above its rate.",
    default: 5000,
    parse: integer(1, 10_000_000),
  } satisfies Setting<number>,
  socketReceiveBufferBytes: {
    name: "socketReceiveBufferBytes",
    description:
      "SO_RCVBUF of the UDP socket, so bursts and GC pauses do not drop packets (capped by net.core.rmem_max).",
    default: 8 * 1024 * 1024,
    parse: integer(65_536, 1 << 30),
  } satisfies Setting<number>,
  receivePath: {
    name: "receivePath",
    description:
      "How receive threads read their sockets: auto (batches of datagrams per recvmmsg through the bundled addon, or Node's dgram where the addon cannot load; the log and lastgasp_receiver_receive_threads say which) or dgram (always Node's dgram).",
    default: "auto",
    parse: oneOf("auto", "dgram"),
  } satisfies Setting<"auto" | "dgram">,
  receiveThreads: {
    name: "receiveThreads",
    description:
      "Receive threads, each with its own socket on the port (SO_REUSEPORT: the kernel spreads sources across them, one source always to the same thread). 0: one per CPU, but no more than memoryLimitBytes has room for.",
    default: 0,
    parse: integer(0, 64),
  } satisfies Setting<number>,
  memoryLimitBytes: {
    name: "memoryLimitBytes",
    description:
      "The container's memory limit (the chart passes resources.limits.memory): with receiveThreads 0, each receive thread must fit in it with a flood's worst case. 0: unknown, one thread per CPU.",
    default: 0,
    parse: integer(0, Number.MAX_SAFE_INTEGER),
  } satisfies Setting<number>,
  nodeSourcesOnly: {
    name: "nodeSourcesOnly",
    description:
      "Record panics only from addresses that are some Node's (a read-only cache of node addresses); others are dropped as unknown_source.",
    default: true,
    parse: boolean,
  } satisfies Setting<boolean>,
  nodeAddressRefreshSeconds: {
    name: "nodeAddressRefreshSeconds",
    description:
      "How often the node address cache is listed again (also at once, at most every 2 s, when a panic comes from an unknown address).",
    default: 30,
    parse: integer(2, 3600),
  } satisfies Setting<number>,
  sourceEventBudget: {
    name: "sourceEventBudget",
    description:
      "KernelPanicEvents per source (an IPv4 address, an IPv6 /64) per sourceEventWindowSeconds at most; beyond, the newest panic waits for the budget instead of being written.",
    default: 3,
    parse: integer(1, 1000),
  } satisfies Setting<number>,
  sourceEventWindowSeconds: {
    name: "sourceEventWindowSeconds",
    description: "The sliding window of sourceEventBudget.",
    default: 300,
    parse: integer(1, 86_400),
  } satisfies Setting<number>,
  maxBufferedBytes: {
    name: "maxBufferedBytes",
    description:
      "Bytes of per-source state (partial lines, fragments, recent lines, pending context) held at most, all sources together; beyond, the least recently heard sources are retired (their pending panics recorded) and counted as memory drops.",
    default: 48 * 1024 * 1024,
    parse: integer(1024 * 1024, 1 << 30),
  } satisfies Setting<number>,
  maxPendingWrites: {
    name: "maxPendingWrites",
    description: "KernelPanicEvents waiting to be written at most; more are logged and counted.",
    default: 1000,
    parse: integer(1, 1_000_000),
  } satisfies Setting<number>,
  coverageIntervalSeconds: {
    name: "coverageIntervalSeconds",
    description:
      "A node's lastgasp.dev/netconsole-last-seen annotation is written at most this often when its agent's self-test is heard.",
    default: 60,
    parse: integer(1, 3600),
  } satisfies Setting<number>,
  receivedBy: {
    name: "receivedBy",
    description: "Name recorded in spec.receivedBy.",
    default: process.env.POD_NAME ?? hostname(),
    defaultText: "$POD_NAME or the host name",
    parse: text,
  } satisfies Setting<string>,
  shutdownGraceSeconds: {
    name: "shutdownGraceSeconds",
    description:
      "On SIGTERM, how long pending writes may still take (keep the pod's terminationGracePeriodSeconds above it); what is still unwritten then goes to spoolDirectory.",
    default: 10,
    parse: integer(0, 3600),
  } satisfies Setting<number>,
  spoolDirectory: {
    name: "spoolDirectory",
    description:
      "Where KernelPanicEvents still unwritten at shutdown are kept as files, recorded by the next receiver started on the same directory (the chart mounts a volume); when empty they are only logged.",
    default: "",
    parse: text,
  } satisfies Setting<string>,
  logLevel: logLevelSetting,
  logFormat: logFormatSetting,
};
