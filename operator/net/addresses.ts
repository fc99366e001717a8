// The optional allow-list of source networks. netconsole has no authentication and source addresses can be
// forged on the local network, so restricting sources to the nodes' CIDRs is the first safety rail.
import { BlockList, isIP } from "node:net";

export class SourceAllowList {
  private readonly list = new BlockList();
  private readonly empty: boolean;

  /** `cidrs` like ["10.0.0.0/16", "fd00::/64"]; an empty list allows every source. Throws on a malformed entry. */
  constructor(cidrs: readonly string[]) {
    for (const cidr of cidrs) {
      const [network = "", prefixText, ...rest] = cidr.trim().split("/");
      const family = isIP(network);
      const prefix = prefixText === undefined ? (family === 6 ? 128 : 32) : Number(prefixText);
      const maxPrefix = family === 6 ? 128 : 32;
      if (family === 0 || rest.length > 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > maxPrefix) {
        throw new Error(`invalid CIDR ${JSON.stringify(cidr)} (expected e.g. 10.0.0.0/16 or fd00::/64)`);
      }
      this.list.addSubnet(network, prefix, family === 6 ? "ipv6" : "ipv4");
    }
    this.empty = cidrs.length === 0;
  }

  allows(address: string): boolean {
    if (this.empty) return true;
    const family = isIP(address);
    return family !== 0 && this.list.check(address, family === 6 ? "ipv6" : "ipv4");
  }
}

/** `::ffff:10.0.0.1` (an IPv4 packet on a dual-stack socket) → `10.0.0.1`: nodes are known by their IPv4. */
export function normalizeAddress(address: string): string {
  return address.startsWith("::ffff:") && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/**
 * The key that per-source limits (rate, events) are counted under: an IPv4 address itself, an IPv6 address's
 * /64. One host usually owns a whole /64 and can send from any of its 2^64 addresses without spoofing.
 */
export function limitKey(address: string): string {
  if (!address.includes(":") || isIP(address) !== 6) return address; // the first test alone settles IPv4, cheaply
  const [head = "", tail = ""] = address.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === "" ? [] : tail.split(":");
  const groups = address.includes("::")
    ? [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => (g === "" ? "0" : g.replace(/^0+(?=.)/, "").toLowerCase()))
    .join(":")}::/64`;
}
