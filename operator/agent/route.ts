// Where a packet to the receiver leaves this node, as the kernel would send it: the route (device, source
// address, gateway) from `ip route get`, the next hop's MAC from the neighbour table. netconsole builds Ethernet
// frames itself and never asks the neighbour table, so the agent must hand it the MAC; a missing entry is
// resolved by sending one datagram to the next hop's discard port, which makes the kernel ARP (or ND) for it.
import { systemClock, type Clock } from "../clock.ts";
import { execFile } from "node:child_process";
import { createSocket } from "node:dgram";
import { isIPv6 } from "node:net";
import { promisify } from "node:util";
import { canonicalIp } from "./target.ts";

const run = promisify(execFile);

/** Runs `ip -j <args>` and returns the parsed JSON. */
export type IpCommand = (args: readonly string[]) => Promise<unknown>;

export const ipCommand: IpCommand = async (args) => {
  const { stdout } = await run("ip", ["-j", ...args], { timeout: 10_000 });
  return stdout.trim() === "" ? [] : (JSON.parse(stdout) as unknown);
};

export interface NetconsolePath {
  readonly device: string;
  readonly localIp: string;
  readonly remoteIp: string;
  /** The gateway when the receiver is on another subnet; the receiver itself otherwise. */
  readonly nextHop: string;
  readonly remoteMac: string;
}

export interface Route {
  readonly device: string;
  readonly source: string;
  readonly gateway?: string;
}

interface RouteJson {
  dev?: string;
  gateway?: string;
  prefsrc?: string;
  from?: string;
}

/** The first route of `ip -j route get <dst> [from <src>]`. */
export function parseRoute(json: unknown, destination: string): Route {
  const route = (Array.isArray(json) ? json[0] : undefined) as RouteJson | undefined;
  if (route?.dev === undefined) throw new Error(`no route to ${destination}`);
  // With `from`, ip echoes the source as `from`; otherwise the kernel's choice is `prefsrc`. IPv6 prints
  // `from: "::"` when no source was given.
  const source = route.prefsrc ?? (route.from !== undefined && route.from !== "::" ? route.from : undefined);
  if (source === undefined) throw new Error(`the route to ${destination} via ${route.dev} has no source address`);
  return { device: route.dev, source, ...(route.gateway === undefined ? {} : { gateway: route.gateway }) };
}

interface NeighbourJson {
  dst?: string;
  lladdr?: string;
  state?: string[];
}

/** States in which the kernel has no usable link-layer address. */
const UNRESOLVED = new Set(["INCOMPLETE", "FAILED", "NONE"]);

/** The MAC of `address` in `ip -j neigh show to <address> dev <dev>`, when the entry is usable. */
export function parseNeighbour(json: unknown, address: string): string | undefined {
  const entries = (Array.isArray(json) ? json : []) as NeighbourJson[];
  const entry = entries.find((e) => e.dst === undefined || sameAddress(e.dst, address));
  if (entry?.lladdr === undefined) return undefined;
  if ((entry.state ?? []).some((s) => UNRESOLVED.has(s))) return undefined;
  return entry.lladdr.toLowerCase();
}

export interface Link {
  readonly type: string;
  readonly address: string;
  readonly up: boolean;
}

interface LinkJson {
  link_type?: string;
  address?: string;
  flags?: string[];
}

export function parseLink(json: unknown, device: string): Link {
  const link = (Array.isArray(json) ? json[0] : undefined) as LinkJson | undefined;
  if (link?.link_type === undefined) throw new Error(`device ${device} not found`);
  return { type: link.link_type, address: link.address ?? "", up: (link.flags ?? []).includes("UP") };
}

export interface ResolverOptions {
  /** How long a missing neighbour entry is waited for after the probe. */
  readonly neighbourTimeoutMs: number;
  readonly ip?: IpCommand;
  /** Sends the datagram that makes the kernel resolve `address` on `device`. */
  readonly probe?: (address: string, device: string) => Promise<void>;
  /** The clock of the wait for a neighbour entry; the system's unless a test moves its own. */
  readonly clock?: Clock;
}

export class PathResolver {
  private readonly ip: IpCommand;
  private readonly probe: (address: string, device: string) => Promise<void>;
  private readonly timeoutMs: number;
  private readonly clock: Clock;

  constructor(options: ResolverOptions) {
    this.clock = options.clock ?? systemClock;
    this.ip = options.ip ?? ipCommand;
    this.probe = options.probe ?? probeNeighbour;
    this.timeoutMs = options.neighbourTimeoutMs;
  }

  /** The path to `remoteIp`, from `sourceIp` when given (it must be an address of this node). */
  async resolve(remoteIp: string, sourceIp?: string): Promise<NetconsolePath> {
    const route = parseRoute(
      await this.ip(["route", "get", remoteIp, ...(sourceIp === undefined ? [] : ["from", sourceIp])]),
      remoteIp,
    );
    const link = parseLink(await this.ip(["link", "show", "dev", route.device]), route.device);
    const nextHop = route.gateway ?? remoteIp;
    const base = { device: route.device, localIp: sourceIp ?? route.source, remoteIp, nextHop };
    if (link.type === "loopback") return { ...base, remoteMac: link.address };
    if (link.type !== "ether")
      throw new Error(`device ${route.device} is ${link.type}: netconsole sends Ethernet frames only`);
    if (!link.up) throw new Error(`device ${route.device} is down`);
    return { ...base, remoteMac: await this.neighbourMac(nextHop, route.device) };
  }

  private async neighbourMac(address: string, device: string): Promise<string> {
    const lookup = async () => parseNeighbour(await this.ip(["neigh", "show", "to", address, "dev", device]), address);
    const known = await lookup();
    if (known !== undefined) return known;
    await this.probe(address, device);
    const deadline = this.clock.monotonicMs() + this.timeoutMs;
    for (;;) {
      const mac = await lookup();
      if (mac !== undefined) return mac;
      if (this.clock.monotonicMs() >= deadline)
        throw new Error(`no MAC for next hop ${address} on ${device} within ${this.timeoutMs} ms of probing it`);
      await this.clock.sleep(50);
    }
  }
}

/** One empty datagram to the discard port: the kernel resolves the next hop to send it. */
export async function probeNeighbour(address: string, device: string): Promise<void> {
  const ipv6 = isIPv6(address);
  // A link-local next hop is only reachable with its device as scope.
  const target = ipv6 && address.toLowerCase().startsWith("fe80:") ? `${address}%${device}` : address;
  const socket = createSocket(ipv6 ? "udp6" : "udp4");
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.send(Buffer.alloc(0), 9, target, (err) => {
        if (err === null) resolve();
        else reject(err);
      });
    });
  } finally {
    socket.close();
  }
}

function sameAddress(a: string, b: string): boolean {
  return canonicalIp(a) === canonicalIp(b);
}
