// One receive thread: its own SO_REUSEPORT sockets on the receiver's port, its own Ingest (allow-list, rate
// limit, netconsole decoding, detection) over the sources the kernel hashes to it, its own metrics. It posts
// what the main thread acts on: panics, self-tests, a kernel heard after its panic, a heartbeat, its metrics on request. On "stop" it closes its
// sockets and completes every panic it still holds before saying "stopped".
import { parentPort, workerData } from "node:worker_threads";
import { systemClock } from "../../clock.ts";
import { createLogger } from "../../log.ts";
import { SourceAllowList } from "../../net/addresses.ts";
import { Ingest } from "./ingest.ts";
import type { FromWorker, ToWorker, WorkerInit } from "../ingest-messages.ts";
import { ReceiverMetrics } from "../metrics.ts";
import { OverloadMonitor, ShedSwitch, SocketPressure, eventLoopBusyShare } from "./shedding.ts";
import { listenUdp, type OnDatagram, type UdpListener } from "./udp.ts";
import { listenBatched, loadBatchAddon, type BatchListener } from "./batch-udp.ts";
import type { ReceivePath } from "../ingest-messages.ts";

const port = parentPort;
if (port === null) throw new Error("ingest-worker.ts runs only as a worker thread");
const init = workerData as WorkerInit;
const post = (message: FromWorker) => {
  port.postMessage(message);
};
// A thread is a composition root of its own: its clock is the system's.
const clock = systemClock;
const log = createLogger(init.logLevel, "receiver", { format: init.logFormat });
const metrics = new ReceiverMetrics({ processMetrics: false });
const { allowedSourceCidrs, ...options } = init.ingest;
const ingest = new Ingest({ ...options, allowList: new SourceAllowList(allowedSourceCidrs) }, metrics, {
  panic: (report) => {
    post({ type: "panic", report });
  },
  selfTest: (heard) => {
    post({ type: "selfTest", heard });
  },
  streamAfterPanic: (heard) => {
    post({ type: "streamAfterPanic", heard });
  },
});

const shed = new ShedSwitch(
  (on) => {
    ingest.shedding = on;
    metrics.shedding.set(on ? 1 : 0);
  },
  (on, changes) => {
    log.warn(on ? "Receive thread overloaded: shedding chatter" : "Receive thread keeps up again", {
      thread: init.index,
      changes,
    });
  },
);

try {
  const { udp, path, fallbackReason, tickShedding } = await listen((address, data, receivedAtMs) => {
    ingest.datagram(address, data, receivedAtMs);
  });
  metrics.receiveThreads.set({ path }, 1);
  let lastHeartbeatMs = 0;
  let socketDrops = 0;
  const stopTicking = clock.setInterval(() => {
    const now = clock.nowMs();
    if ("socketDrops" in udp) {
      const dropped = udp.socketDrops();
      metrics.socketDrops.inc(dropped - socketDrops);
      socketDrops = dropped;
    }
    tickShedding?.();
    ingest.tick(now);
    if (now - lastHeartbeatMs >= init.heartbeatMs) {
      lastHeartbeatMs = now;
      post({ type: "heartbeat", atMs: now, broken: udp.broken() });
    }
  }, init.tickMs);
  port.on("message", (message: ToWorker) => {
    if (message.type === "metrics") {
      void metrics.registry.getMetricsAsJSON().then((json) => {
        post({ type: "metrics", id: message.id, json });
      });
      return;
    }
    void udp.close().then(() => {
      stopTicking();
      ingest.drain(clock.nowMs());
      post({ type: "stopped" });
      port.close();
    });
  });
  post({ type: "listening", addresses: udp.addresses, ports: udp.ports, path, fallbackReason });
} catch (err) {
  post({ type: "failed", message: (err as Error).message });
  port.close();
}

/**
 * This thread's sockets, batched where the addon loads (and the settings allow), and how it judges that it is
 * behind: on the batched path by the sockets' fill after every batch (the thread waits inside the addon, so its
 * event loop always looks busy); on dgram by the event loop's utilization, each tick (`tickShedding`).
 */
async function listen(onDatagram: OnDatagram): Promise<{
  udp: UdpListener | BatchListener;
  path: ReceivePath;
  fallbackReason?: string;
  tickShedding?: () => void;
}> {
  const addon = init.receivePath === "dgram" ? { unavailable: "receivePath is dgram" } : loadBatchAddon();
  if (!("unavailable" in addon)) {
    const pressure = new SocketPressure();
    const udp = await listenBatched(addon, init.listen, {
      receiveBufferBytes: init.socketReceiveBufferBytes,
      onDatagram,
      onBatch: (fill) => {
        shed.set(pressure.observe(fill), clock.monotonicMs());
      },
      log,
    });
    return { udp, path: "recvmmsg" };
  }
  const udp = await listenUdp(init.listen, onDatagram, {
    receiveBufferBytes: init.socketReceiveBufferBytes,
    reusePort: true,
    log,
    clock,
  });
  const overload = new OverloadMonitor(eventLoopBusyShare(), clock.monotonicMs());
  return {
    udp,
    path: "dgram",
    fallbackReason: init.receivePath === "dgram" ? undefined : addon.unavailable,
    tickShedding: () => {
      shed.set(overload.tick(clock.monotonicMs()), clock.monotonicMs());
    },
  };
}
