// A TCP proxy on loopback in front of the test API server, which a test can cut (every connection reset, new
// ones refused) and restore: a real network fault between a component and the API server.
import { createServer, connect, type Server, type Socket } from "node:net";

export interface TcpProxy {
  readonly port: number;
  /** Resets every open connection and stops accepting new ones. */
  cut(): Promise<void>;
  /** Accepts connections again, on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, targetHost);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  const listen = async (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host: "127.0.0.1", port }, () => {
        server.off("error", reject);
        const address = server.address();
        resolve(typeof address === "object" && address !== null ? address.port : port);
      });
    });
  const stop = async () => {
    for (const s of sockets) s.resetAndDestroy();
    await new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    );
  };
  const port = await listen(0);
  let listening = true;
  return {
    port,
    cut: async () => {
      listening = false;
      await stop();
    },
    restore: async () => {
      await listen(port);
      listening = true;
    },
    close: async () => {
      if (listening) await stop();
      listening = false;
    },
  };
}
