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
  const sockets: Socket[] = [];
  const ports: number[] = [];
  const bound: string[] = [];
  const failures: string[] = [];
  let closing = false;
  let broken: string | undefined;
  for (const address of addresses) {
    const { host, port } = splitHostPort(address);
    try {
      const socket = await bind(host, port, { receiveBufferBytes, reusePort }, log);
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
      sockets.push(socket);
      ports.push(socket.address().port);
      bound.push(isIP(host) === 6 ? `[${host}]:${socket.address().port}` : `${host}:${socket.address().port}`);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // A machine without IPv6 cannot bind [::]: fine as long as another address was bound.
      if (isIP(host) === 6 && (code === "EAFNOSUPPORT" || code === "EADDRNOTAVAIL"))
        log.warn("Skipped IPv6 listen address: IPv6 is unavailable", { address });
      else failures.push(`${address}: ${(err as Error).message}`);
    }
  }
  if (failures.length > 0 || sockets.length === 0) {
    await Promise.all(
      sockets.map(
        async (s) =>
          new Promise<void>((resolve) =>
            s.close(() => {
              resolve();
            }),
          ),
      ),
    );
    throw new Error(`cannot listen for netconsole: ${failures.join("; ") || "no address could be bound"}`);
  }
  return {
    ports,
    addresses: bound,
    broken: () => broken,
    close: async () => {
      closing = true;
      return Promise.all(
        sockets.map(
          async (s) =>
            new Promise<void>((resolve) =>
              s.close(() => {
                resolve();
              }),
            ),
        ),
      ).then(() => undefined);
    },
  };
}

async function bind(
  host: string,
  port: number,
  options: { receiveBufferBytes: number; reusePort: boolean },
  log: Logger,
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
  // Linux reports twice the usable size and silently caps the request at net.core.rmem_max.
  const effective = socket.getRecvBufferSize();
  if (effective < receiveBufferBytes) {
    log.warn("UDP receive buffer is smaller than configured: raise net.core.rmem_max", {
      requested: receiveBufferBytes,
      effective,
      address: `${host}:${socket.address().port}`,
    });
  }
  return socket;
}
