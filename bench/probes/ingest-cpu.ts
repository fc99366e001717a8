// `node bench/probes/ingest-cpu.ts [packets]`: the receive thread's per-packet work alone, without sockets:
// chatter from 5,000 sources (extended and plain, as S4's generator sends it) fed to one Ingest, timed. Prints
// packets/s of one core. Run with --cpu-prof to see where the cycles go.
import { performance } from "node:perf_hooks";
import { encodeExtended } from "../../operator/netconsole/encode.ts";
import { SourceAllowList } from "../../operator/net/addresses.ts";
import { loadPatterns } from "../../operator/receiver/detector/patterns.ts";
import { Ingest } from "../../operator/receiver/ingest.ts";
import { ReceiverMetrics } from "../../operator/receiver/metrics.ts";
import { loopbackAddress } from "../lib/panics.ts";

const SOURCES = 5000;
const packets = Number(process.argv[2] ?? 2_000_000);
const chatter = [
  "eth0: Link is Up - 25Gbps Full Duplex, Flow Control: None",
  "EXT4-fs (nvme1n1): mounted filesystem with ordered data mode. Quota mode: none.",
  "IPv6: ADDRCONF(NETDEV_CHANGE): cali7d1c9a3b2f4: link becomes ready",
  'audit: type=1400 audit(1732300000.123:4567): apparmor="STATUS" operation="profile_replace"',
  'kubelet[2314]: I1122 10:00:00.000000 2314 kubelet.go:2000] "SyncLoop UPDATE" source="api"',
];
const addresses = Array.from({ length: SOURCES }, (_, i) => loopbackAddress(4, i));
// Pre-encoded: the generator's cost is not the receiver's.
const datagrams = Array.from({ length: 64 }, (_, k) =>
  addresses.map((_, source) => {
    const text = chatter[source % chatter.length]!;
    const stamp = `[${(1000 + k * 0.001 + source / 1e6).toFixed(6).padStart(12)}]`;
    if (source % 2 === 1) return Buffer.from(`<6>${stamp} ${text}\n`);
    return encodeExtended([`<6>${stamp} ${text}`], { extended: true, firstSequence: 1000 + k })[0]!;
  }),
);
const ingest = new Ingest(
  {
    patterns: loadPatterns(),
    detector: { contextLines: 20, quietMs: 200, deadlineMs: 750, duplicateWindowMs: 600_000 },
    stream: { maxLineLength: 1024, maxRecordBytes: 8192, maxInFlight: 8, timeoutMs: 200 },
    maxSources: 10_000,
    maxBufferedBytes: 256 * 1024 * 1024,
    sourceIdleMs: 60_000,
    ratePerSecond: 1_000_000,
    rateBurst: 1_000_000,
    allowList: new SourceAllowList([]),
  },
  new ReceiverMetrics({ processMetrics: false }),
  () => undefined,
);
const started = performance.now();
for (let i = 0; i < packets; i++) {
  const source = i % SOURCES;
  const round = Math.floor(i / SOURCES) % 64;
  const now = Date.now();
  ingest.datagram(addresses[source]!, datagrams[round]![source]!, now);
  if (i % 2000 === 0) ingest.tick(now);
}
const seconds = (performance.now() - started) / 1000;
process.stdout.write(
  `${Math.round(packets / seconds).toLocaleString("en")} packets/s on one core (${packets} packets, ${SOURCES} sources)\n`,
);
