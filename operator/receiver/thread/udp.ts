// The UDP sockets netconsole traffic arrives on. One socket per configured address (IPv4 and IPv6 bound
// separately, IPv6 with ipv6Only so both can share a port), each with a large receive buffer.
import { createSocket, type Socket } from "node:dgram";
import { isIP } from "node:net";
import type { Clock } from "../../clock.ts";
import type { Logger } from "../../log.ts";
import { splitHostPort } from "../../http.ts";
import { normalizeAddress } from "../../net/addresses.ts";

/** A datagram's source address, its bytes (valid only during the call) and when the kernel received it (ms). */
export type OnDatagram = (address: string, data: Buffer, receivedAtMs: number) => void;

export interface UdpListener {
  readonly ports: readonly number[];
  /** host:port of each socket bound (a skipped IPv6 address is not among them). */
  readonly addresses: readonly string[];
  /** Why a socket stopped working (it failed or closed while listening), or undefined while all listen. */
  broken(): string | undefined;
  close(): Promise<void>;
}

/**
 * `reusePort`: bind with SO_REUSEPORT, so that several receive threads each have a socket on the same port and
 * the kernel spreads sources across them by address hash (one source always lands on the same socket). Linux
 * lets only sockets of the same user join a port this way.
 */
export async function listenUdp(
  addresses: readonly string[],
  onDatagram: OnDatagram,
  options: { receiveBufferBytes: number; reusePort: boolean; log: Logger; clock: Clock },
): Promise<UdpListener> {
  const { receiveBufferBytes, reusePort, log, clock } = options;
  let closing = false;
  let broken: string | undefined;
  // Each socket is watched from the moment it is bound: an error with no listener would end the thread.
  const watch = (socket: Socket, address: string) => {
    socket.on("message", (data, rinfo) => {
      onDatagram(normalizeAddress(rinfo.address), data, clock.nowMs());
    });
    socket.on("error", (err) => {
      log.error("UDP socket failed", { address, err });
      broken ??= `UDP socket ${address} failed: ${err.message}`;
    });
    socket.on("close", () => {
      if (!closing) broken ??= `UDP socket ${address} closed`;
    });
    return socket;
  };
  const opened = await bindEach(
    addresses,
    {
      open: async (host, port, address) => watch(await bind(host, port, { receiveBufferBytes, reusePort }), address),
      port: (socket) => socket.address().port,
      receiveBufferBytes: (socket) => socket.getRecvBufferSize(),
      close: closeSocket,
    },
    { receiveBufferBytes, log },
  );
  const sockets = opened.map((o) => o.socket);
  const ports = sockets.map((socket) => socket.address().port);
  const bound = opened.map((o) => o.bound);
  return {
    ports,
    addresses: bound,
    broken: () => broken,
    close: async () => {
      closing = true;
      await Promise.all(sockets.map(closeSocket));
    },
  };
}

async function closeSocket(socket: Socket): Promise<void> {
  return new Promise<void>((resolve) =>
    socket.close(() => {
      resolve();
    }),
  );
}

/** How one kind of socket is opened, asked its port and buffer, and closed (dgram's here, the addon's in batch-udp.ts). */
export interface SocketOpener<S> {
  open(host: string, port: number, address: string): Promise<S>;
  port(socket: S): number;
  /** The receive buffer the kernel granted, as Linux reports it (twice the usable size). */
  receiveBufferBytes(socket: S): number;
  close(socket: S): Promise<void> | void;
}

/**
 * Opens a socket for each configured address, or none: an address that cannot be bound closes the others and
 * fails the start, naming it. An IPv6 address on a machine without IPv6 is skipped (with a warning) as long as
 * another address was bound. A receive buffer smaller than `receiveBufferBytes` is warned about: Linux silently
 * caps the request at net.core.rmem_max. `bound` is host:port as bound, IPv6 in brackets.
 */
export async function bindEach<S>(
  addresses: readonly string[],
  opener: SocketOpener<S>,
  options: { receiveBufferBytes: number; log: Logger },
): Promise<{ socket: S; address: string; bound: string }[]> {
  const { receiveBufferBytes, log } = options;
  const opened: { socket: S; address: string; bound: string }[] = [];
  const failures: string[] = [];
  for (const address of addresses) {
    const { host, port } = splitHostPort(address);
    try {
      const socket = await opener.open(host, port, address);
      const boundPort = opener.port(socket);
      const bound = isIP(host) === 6 ? `[${host}]:${boundPort}` : `${host}:${boundPort}`;
      opened.push({ socket, address, bound });
      const effective = opener.receiveBufferBytes(socket);
      if (effective < receiveBufferBytes)
        log.warn("UDP receive buffer is smaller than configured: raise net.core.rmem_max", {
          requested: receiveBufferBytes,
          effective,
          address: bound,
        });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (isIP(host) === 6 && (code === "EAFNOSUPPORT" || code === "EADDRNOTAVAIL"))
        log.warn("Skipped IPv6 listen address: IPv6 is unavailable", { address });
      else failures.push(`${address}: ${(err as Error).message}`);
    }
  }
  if (failures.length > 0 || opened.length === 0) {
    await Promise.all(opened.map(async (o) => opener.close(o.socket)));
    throw new Error(`cannot listen for netconsole: ${failures.join("; ") || "no address could be bound"}`);
  }
  return opened;
}

async function bind(
  host: string,
  port: number,
  options: { receiveBufferBytes: number; reusePort: boolean },
): Promise<Socket> {
  const { receiveBufferBytes, reusePort } = options;
  const ipv6 = isIP(host) === 6;
  const type = ipv6 ? "udp6" : "udp4";
  const socket = createSocket({ type, ipv6Only: ipv6, recvBufferSize: receiveBufferBytes, reusePort });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind({ address: host, port, exclusive: true }, () => {
      socket.off("error", reject);
      resolve();
    });
  });
  return socket;
}
