// The host's side of a fixture capture (hack/capture-*-fixtures.ts): a UDP socket on the tier's host address that
// keeps every datagram a guest's netconsole sends, exactly as received, with its arrival offset from the first
// and the addresses it came from.
import { createSocket } from "node:dgram";

export interface CapturedDatagram {
  readonly offsetMs: number;
  readonly base64: string;
}

export interface DatagramCapture {
  readonly port: number;
  readonly datagrams: CapturedDatagram[];
  /** Every source address heard (a capture refuses datagrams from anywhere but its guest). */
  readonly sources: Set<string>;
  close(): void;
}

/** Listens on `hostIp`; with `from`, keeps only datagrams from that address (others are still in `sources`). */
export async function captureDatagrams(hostIp: string, from?: string): Promise<DatagramCapture> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind({ address: hostIp, port: 0 }, resolve));
  const datagrams: CapturedDatagram[] = [];
  const sources = new Set<string>();
  let first: number | undefined;
  socket.on("message", (message, sender) => {
    sources.add(sender.address);
    if (from !== undefined && sender.address !== from) return;
    first ??= performance.now();
    datagrams.push({ offsetMs: Math.round(performance.now() - first), base64: message.toString("base64") });
  });
  return { port: socket.address().port, datagrams, sources, close: () => socket.close() };
}
