// The operator's HTTP endpoint: Prometheus /metrics, liveness /healthz and readiness /readyz.
import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";

export interface HttpEndpoints {
  /** The registry to serve at each scrape (the receiver merges its threads' into one). */
  readonly metrics: () => Promise<Registry>;
  /** Alive: the process is not wedged. */
  readonly healthy: () => boolean;
  /** Ready: listening and able to do its job. */
  readonly ready: () => boolean;
}

export async function startHttpServer(
  address: string,
  endpoints: HttpEndpoints,
): Promise<{ server: Server; port: number }> {
  const { host, port } = splitHostPort(address);
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/metrics") {
      endpoints
        .metrics()
        .then(async (registry) => {
          const body = await registry.metrics();
          res.writeHead(200, { "content-type": registry.contentType }).end(body);
        })
        .catch((err: unknown) => res.writeHead(500).end(String(err)));
      return;
    }
    const check = path === "/healthz" ? endpoints.healthy : path === "/readyz" ? endpoints.ready : undefined;
    if (check === undefined) res.writeHead(404).end("not found\n");
    else if (check()) res.writeHead(200).end("ok\n");
    else res.writeHead(503).end("not ready\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port }, () => {
      resolve();
    });
  });
  const bound = server.address();
  return { server, port: typeof bound === "object" && bound !== null ? bound.port : port };
}

/** "0.0.0.0:8080", "[::1]:6666", ":8080" → host and port; throws on anything else. */
export function splitHostPort(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(address.trim());
  const port = Number(match?.[3]);
  if (match === null || port > 65_535)
    throw new Error(`invalid address ${JSON.stringify(address)} (expected host:port, e.g. 0.0.0.0:6666 or [::]:6666)`);
  return { host: match[1] ?? (match[2] === "" ? "0.0.0.0" : match[2]!), port };
}
