// Batched receive: the receive thread's sockets read through the Node-API addon (native/batch_recv.c), up to a
// batch of datagrams per recvmmsg(2) into one slab this thread owns and reuses. The thread loops: wait up to
// WAIT_MS for a datagram, hand every datagram of the batch on, yield to its event loop (messages, ticks), again.
// Where the addon cannot load (not built: no compiler at install), udp.ts's dgram sockets serve instead.
import { createRequire } from "node:module";
import { isIP } from "node:net";
import { fileURLToPath } from "node:url";
import type { Logger } from "../../log.ts";
import { normalizeAddress } from "../../net/addresses.ts";
import { bindEach, type OnDatagram, type UdpListener } from "./udp.ts";

/** The addon's functions (see the comment at the top of native/batch_recv.c). */
interface BatchAddon {
  open(host: string, port: number, ipv6: boolean, receiveBufferBytes: number, reusePort: boolean): number[];
  receive(fds: Int32Array, timeoutMs: number, slab: Uint8Array, meta: Float64Array, addresses: Uint8Array): number;
  socketFill(fd: number): number[];
  close(fd: number): void;
  readonly constants: {
    readonly slotBytes: number;
    readonly metaFields: number;
    readonly maxBatch: number;
    readonly addressBytes: number;
  };
}

/** Datagrams per recvmmsg: enough that a syscall's cost is spread thin, few enough that a batch is quick to handle. */
const BATCH = 64;
/** How long an idle thread waits in poll(2) before its event loop turns (its ticks run late by at most this). */
const WAIT_MS = 10;

/** Where the addon is: beside the bundle (dist/, the image), or build/ in a checkout (hack/addon/build.sh). */
const CANDIDATES = ["./batch_recv.node", "../../../build/batch_recv.node"];

/** The addon, or why it cannot be used. Tried once per thread. */
export function loadBatchAddon(): BatchAddon | { readonly unavailable: string } {
  const require = createRequire(import.meta.url);
  const reasons: string[] = [];
  for (const candidate of CANDIDATES) {
    const path = fileURLToPath(new URL(candidate, import.meta.url));
    try {
      return require(path) as BatchAddon;
    } catch (err) {
      reasons.push(`${path}: ${(err as Error).message.split("\n")[0]}`);
    }
  }
  return { unavailable: reasons.join("; ") };
}

/** A batched listener also tells how full its sockets are and what the kernel dropped at them. */
export interface BatchListener extends UdpListener {
  /** The fullest socket's queued share of its receive buffer (0-1), now. */
  backlog(): number;
  /** Datagrams the kernel dropped at these sockets (full buffer) since they opened. */
  socketDrops(): number;
}

/**
 * `onBatch`: after each batch, with the fullest socket's queued share of its buffer (0-1): where the thread
 * decides whether to shed before the next (shedding.ts's SocketPressure).
 */
export async function listenBatched(
  addon: BatchAddon,
  addresses: readonly string[],
  options: { receiveBufferBytes: number; onDatagram: OnDatagram; onBatch: (fill: number) => void; log: Logger },
): Promise<BatchListener> {
  const { receiveBufferBytes, onDatagram, onBatch, log } = options;
  const sockets = (await openAll(addon, addresses, receiveBufferBytes, log)).map((o) => ({
    ...o.socket,
    bound: o.bound,
  }));
  const fds = Int32Array.from(sockets, (s) => s.fd);
  const { slotBytes, metaFields, addressBytes } = addon.constants;
  const slab = Buffer.alloc(BATCH * slotBytes);
  const meta = new Float64Array(BATCH * metaFields);
  const sources = Buffer.alloc(BATCH * addressBytes);
  let broken: string | undefined;
  let closing = false;
  let closed: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (closed = resolve));

  const receiveOnce = () => {
    const count = addon.receive(fds, WAIT_MS, slab, meta, sources);
    for (let i = 0; i < count; i++) {
      const m = i * metaFields;
      const address = normalizeAddress(sources.toString("latin1", i * addressBytes, i * addressBytes + meta[m + 2]!));
      // A datagram longer than a slot arrives cut to the slot: still longer than netconsole's 1000 bytes, so the
      // stream refuses it as oversized, as it does the whole datagram on the dgram path.
      onDatagram(address, slab.subarray(i * slotBytes, i * slotBytes + meta[m]!), meta[m + 5]!);
    }
    if (count > 0) onBatch(backlog());
  };
  const dropsNow = () => sockets.reduce((sum, s) => sum + (addon.socketFill(s.fd)[2] ?? 0), 0);
  const backlog = () => {
    if (released) return 0;
    let fullest = 0;
    for (const s of sockets) fullest = Math.max(fullest, fill(addon, s.fd));
    return fullest;
  };
  // Read until the sockets close; afterwards the last readings stand (the tick may still ask).
  let lastDrops = 0;
  let released = false;
  const loop = () => {
    if (closing) {
      lastDrops = dropsNow();
      released = true;
      for (const s of sockets) addon.close(s.fd);
      closed();
      return;
    }
    try {
      receiveOnce();
    } catch (err) {
      broken ??= `batched receive failed: ${(err as Error).message}`;
      log.error("Batched UDP receive failed", { err });
      closing = true;
    }
    setImmediate(loop);
  };
  setImmediate(loop);
  return {
    ports: sockets.map((s) => s.port),
    addresses: sockets.map((s) => s.bound),
    broken: () => broken,
    backlog,
    socketDrops: () => (released ? lastDrops : dropsNow()),
    close: async () => {
      closing = true;
      return done;
    },
  };
}

function fill(addon: BatchAddon, fd: number): number {
  const [queued = 0, buffer = 1] = addon.socketFill(fd);
  return queued / buffer;
}

interface OpenSocket {
  readonly fd: number;
  readonly port: number;
  readonly granted: number;
}

async function openAll(
  addon: BatchAddon,
  addresses: readonly string[],
  receiveBufferBytes: number,
  log: Logger,
): Promise<{ socket: OpenSocket; bound: string }[]> {
  return bindEach<OpenSocket>(
    addresses,
    {
      open: (host, port) => {
        const [fd = -1, boundPort = 0, granted = 0] = addon.open(
          host,
          port,
          isIP(host) === 6,
          receiveBufferBytes,
          true,
        );
        return Promise.resolve({ fd, port: boundPort, granted });
      },
      port: (socket) => socket.port,
      receiveBufferBytes: (socket) => socket.granted,
      close: (socket) => {
        addon.close(socket.fd);
      },
    },
    { receiveBufferBytes, log },
  );
}
