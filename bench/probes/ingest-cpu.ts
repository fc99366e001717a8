// `node bench/probes/ingest-cpu.ts [packets]`: the receive thread's per-packet work alone, without sockets:
// chatter from 5,000 sources (extended and plain, as S4's generator sends it) fed to one Ingest, timed. Prints
// packets/s of one core. Run with --cpu-prof to see where the cycles go.
import { performance } from "node:perf_hooks";
import { encodeExtended } from "../../operator/netconsole/encode.ts";
import { SourceAllowList } from "../../operator/net/addresses.ts";
import { Ingest } from "../../operator/receiver/thread/ingest.ts";
import { ReceiverMetrics } from "../../operator/receiver/metrics.ts";
import { TEST_INGEST_OPTIONS } from "../../test/harness/ingest.ts";
import { CHATTER } from "../lib/chatter.ts";
import { loopbackAddress } from "../lib/panics.ts";

const SOURCES = 5000;
const packets = Number(process.argv[2] ?? 2_000_000);
const addresses = Array.from({ length: SOURCES }, (_, i) => loopbackAddress(4, i));
// Pre-encoded: the generator's cost is not the receiver's.
const datagrams = Array.from({ length: 64 }, (_, k) =>
  addresses.map((_, source) => {
    const text = CHATTER[source % CHATTER.length]!;
    const stamp = `[${(1000 + k * 0.001 + source / 1e6).toFixed(6).padStart(12)}]`;
    if (source % 2 === 1) return Buffer.from(`<6>${stamp} ${text}\n`);
    return encodeExtended([`<6>${stamp} ${text}`], { extended: true, firstSequence: 1000 + k })[0]!;
  }),
);
const metrics = new ReceiverMetrics({ processMetrics: false });
const ingest = new Ingest(
  {
    ...TEST_INGEST_OPTIONS,
    maxSources: 10_000,
    maxBufferedBytes: 256 * 1024 * 1024,
    ratePerSecond: 1_000_000,
    rateBurst: 1_000_000,
    allowList: new SourceAllowList([]),
  },
  metrics,
  { panic: () => undefined, selfTest: () => undefined, streamAfterPanic: () => undefined },
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
const drops = (await metrics.drops.get()).values.filter((v) => v.value > 0);
process.stdout.write(`drops: ${drops.map((v) => `${String(v.labels.reason)} ${v.value}`).join(", ") || "none"}\n`);
