// `taskset -c 0 node bench/probes/dgram-floor.ts [packets/s]`: the floor under S4's pinned mode. A receiver
// that only counts datagrams (no parsing, nothing else) on one CPU, fed by S4's generator pinned to the other:
// what Node's dgram alone can read on this machine, and the CPU it takes to read it.
import dgram from "node:dgram";
import { startLoadGenerator } from "../lib/loadgen.ts";
import { udpSocketDrops } from "../lib/procfs.ts";

const rate = Number(process.argv[2] ?? 150_000);
const socket = dgram.createSocket({ type: "udp4", recvBufferSize: 8 * 1024 * 1024 });
let received = 0;
socket.on("message", () => {
  received++;
});
await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
const port = socket.address().port;
const generator = await startLoadGenerator(port, 5000, 4, 1);
try {
  const dropsBefore = udpSocketDrops(port);
  const cpuBefore = process.cpuUsage();
  const { sent, elapsedMs } = await generator.run({ rate, durationMs: 5000, panicSources: [] });
  // What is still queued in the socket is read within a few milliseconds.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const cpu = process.cpuUsage(cpuBefore);
  const drops = udpSocketDrops(port) - dropsBefore;
  process.stdout.write(
    `${Math.round((sent / elapsedMs) * 1000)} sent/s: ${((received / sent) * 100).toFixed(1)} % read, ` +
      `${drops} socket drops, ${((cpu.user + cpu.system) / 1e6).toFixed(1)} CPU-seconds in ${(elapsedMs / 1000).toFixed(1)} s\n`,
  );
} finally {
  generator.stop();
  socket.close();
}
