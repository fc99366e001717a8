// Sends datagrams to a receiver from a chosen source address, in order, as a node's kernel would.
import { systemClock, type Clock } from "../clock.ts";
import { createSocket, type Socket } from "node:dgram";
import { isIP } from "node:net";
import { splitHostPort } from "../http.ts";

export interface SendOptions {
  /** host:port of the receiver ([::1]:6666 for IPv6). */
  readonly to: string;
  /** Source address to bind (127.0.0.x can stand in for a node's IP); the system's choice when omitted. */
  readonly from?: string;
  /**
   * Source port to bind: netconsole sends every datagram of a target from one port (6665 by default), so a
   * receiver hashing sources to threads by port sees one node's stream in one place. Any free port when omitted.
   */
  readonly fromPort?: number;
  /** Pause between datagrams. */
  readonly intervalMs?: number;
  /** Called just before each datagram is handed to the socket (benchmarks time the panic line's). */
  readonly onSend?: (index: number) => void;
  /** The clock of the pauses; the system's by default. */
  readonly clock?: Clock;
}

/** A UDP socket bound to `from` (any address when omitted), ready to send. */
export async function bindSocket(from?: string, ipv6 = false, port = 0): Promise<Socket> {
  const socket = createSocket(ipv6 ? "udp6" : "udp4");
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind({ port, ...(from === undefined ? {} : { address: from }) }, () => {
        // Send errors go to each send's callback; a socket error with no listener then fails loudly.
        socket.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    socket.close();
    throw err;
  }
  return socket;
}

export async function sendDatagrams(datagrams: readonly Buffer[], options: SendOptions): Promise<void> {
  const target = splitHostPort(options.to);
  const socket = await bindSocket(options.from, isIP(target.host) === 6, options.fromPort);
  try {
    for (const [index, datagram] of datagrams.entries()) {
      options.onSend?.(index);
      await new Promise<void>((resolve, reject) => {
        socket.send(datagram, target.port, target.host, (err) => {
          if (err) reject(err);
          else resolve();
        });
      });
      if (options.intervalMs !== undefined && options.intervalMs > 0)
        await (options.clock ?? systemClock).sleep(options.intervalMs);
    }
  } finally {
    socket.close();
  }
}
