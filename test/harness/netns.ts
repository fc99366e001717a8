// Network namespaces for tests: a "node" and a "router" joined by a veth pair, created by the test and removed
// afterwards. Nothing leaves them: addresses are private, and no namespace is connected to the host's network.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

export async function ip(...args: string[]): Promise<string> {
  return (await run("ip", args, { timeout: 10_000 })).stdout;
}

export interface TwoHosts {
  /** Namespace of the node the agent runs on. */
  readonly node: string;
  /** Namespace of its neighbour, which is also the node's default gateway. */
  readonly router: string;
  readonly nodeDevice: string;
  readonly routerDevice: string;
  remove(): Promise<void>;
}

/** Why namespaces cannot be made here (not root, no ip, a sandbox without CAP_SYS_ADMIN), or undefined. */
export async function netnsUnavailable(): Promise<string | undefined> {
  const probe = `lgprobe-${randomBytes(3).toString("hex")}`;
  try {
    await ip("netns", "add", probe);
    await ip("netns", "del", probe);
    return undefined;
  } catch (err) {
    return `cannot create network namespaces (${(err as Error).message.split("\n")[0]!.trim()})`;
  }
}

/**
 * The `skip` option for tests that need network namespaces: the reason they cannot run here, so a developer
 * without root sees it; on CI (CI=true) a missing capability is a failure, never a silently skipped safety test.
 */
export async function skipUnlessNetns(): Promise<string | false> {
  const reason = await netnsUnavailable();
  if (reason === undefined) return false;
  if (process.env.CI === "true") throw new Error(`${reason}: CI must run the network-namespace tests (root, iproute2)`);
  return `${reason}; run as root to include these tests`;
}

/**
 * node (10.201.0.2/24, fd00:201::2/64) ⇄ router (10.201.0.1/24, fd00:201::1/64); the router is the node's
 * default gateway for IPv4 and IPv6, so any other address is "on another subnet".
 */
export async function twoHosts(): Promise<TwoHosts> {
  const id = randomBytes(3).toString("hex");
  const hosts = { node: `lgn-${id}`, router: `lgr-${id}`, nodeDevice: `lgn${id}`, routerDevice: `lgr${id}` };
  const remove = async () => {
    for (const ns of [hosts.node, hosts.router]) await ip("netns", "del", ns).catch(() => undefined);
  };
  try {
    await ip("netns", "add", hosts.node);
    await ip("netns", "add", hosts.router);
    await ip(
      "link",
      "add",
      hosts.nodeDevice,
      "netns",
      hosts.node,
      "type",
      "veth",
      "peer",
      "name",
      hosts.routerDevice,
      "netns",
      hosts.router,
    );
    await configure(hosts.node, hosts.nodeDevice, "2");
    await configure(hosts.router, hosts.routerDevice, "1");
    await ip("-n", hosts.node, "route", "add", "default", "via", "10.201.0.1");
    await ip("-n", hosts.node, "-6", "route", "add", "default", "via", "fd00:201::1");
  } catch (err) {
    await remove();
    throw err;
  }
  return { ...hosts, remove };
}

async function configure(ns: string, device: string, host: string): Promise<void> {
  await ip("-n", ns, "link", "set", "lo", "up");
  await ip("-n", ns, "addr", "add", `10.201.0.${host}/24`, "dev", device);
  // nodad: the address is usable at once instead of after duplicate address detection.
  await ip("-n", ns, "-6", "addr", "add", `fd00:201::${host}/64`, "dev", device, "nodad");
  await ip("-n", ns, "link", "set", device, "up");
}

export async function macOf(ns: string, device: string): Promise<string> {
  const [link] = JSON.parse(await ip("-j", "-n", ns, "link", "show", "dev", device)) as [{ address: string }];
  return link.address;
}

/** Addresses in a namespace of their own, reachable from the host's network namespace over one veth pair. */
export interface HostLink {
  readonly namespace: string;
  /** The host's end: 10.203.N.1 on device hostDevice. */
  readonly hostAddress: string;
  readonly hostDevice: string;
  /** The host's IPv6 end: fd00:203:N::1 (one /64 shared with the namespace's IPv6 addresses). */
  readonly hostAddress6: string;
  /** The address of host `i` (1 ≤ i ≤ 250) in the namespace, whether or not it was added. */
  address(i: number): string;
  /** Gives the namespace address `i`: it answers like a machine with nothing listening (a reset per SYN). */
  add(i: number): Promise<string>;
  /** Gives the namespace IPv6 address fd00:203:N::`suffix` (hex, in the host's /64), as add does. */
  add6(suffix: string): Promise<string>;
  /**
   * Takes address `i` away: the host still sends to the namespace's link (its neighbour entry stays), and the
   * namespace drops what is no longer its own without a word (it does not forward). SYNs get no answer at all,
   * as from a machine whose kernel died.
   */
  silence(i: number): Promise<void>;
  /**
   * Gives the host's end a second address (namespace host number `i`'s, 1 ≤ i ≤ 250: keep it out of the nodes'
   * range) to listen on: replies to it are never dropped by dropRepliesToHost.
   */
  addHostAddress(i: number): Promise<string>;
  /**
   * Gives the host's end IPv6 address fd00:203:N::`suffix` to listen on, deprecated (preferred lifetime 0): the
   * host never picks it as the source of its own connections, so its probes keep coming from hostAddress6.
   */
  addHostAddress6(suffix: string): Promise<string>;
  /**
   * The namespace's addresses (or only `from`, IPv4 or IPv6) stop answering the host's main address
   * (hostAddress or hostAddress6, whence the host probes them): a blackhole route in the namespace drops the replies (for `from`, through a rule that
   * sends its packets to a table of their own), so SYNs get no answer at all; sending to another host address
   * (addHostAddress) still works. `restore` ends it.
   */
  dropRepliesToHost(from?: string): Promise<{ restore(): Promise<void> }>;
  remove(): Promise<void>;
}

/** The routing table (and rule preference) that silences one address of a HostLink namespace. */
const ONE_ADDRESS_TABLE = "1000";

/**
 * A namespace joined to the host by a veth pair on 10.203.N.0/24 (N random). Only the host's route to that /24
 * leads there, and the namespace has no other link: nothing sent to its addresses leaves the machine. The
 * namespace keeps a primary address (.254) of its own, so that taking one address away leaves the others.
 */
export async function hostLink(): Promise<HostLink> {
  const id = randomBytes(3).toString("hex");
  const subnet = `10.203.${2 + (randomBytes(1)[0]! % 200)}`;
  const link = { namespace: `lgh-${id}`, host: `lghh${id}`, inside: `lghn${id}` };
  const subnet6 = `fd00:203:${subnet.split(".")[2]}::`;
  if (!(await ip("route", "get", `${subnet}.2`)).includes("via"))
    throw new Error(`${subnet}.0/24 is already routed here without a gateway: refusing to take it`);
  if ((await ip("-6", "route", "show", `${subnet6}/64`)).trim() !== "")
    throw new Error(`${subnet6}/64 is already routed here: refusing to take it`);
  const remove = async () => {
    // Deleting the namespace deletes its end of the pair, and with it the host's end.
    await ip("netns", "del", link.namespace).catch(() => undefined);
    await ip("link", "del", link.host).catch(() => undefined);
  };
  try {
    await ip("netns", "add", link.namespace);
    await ip("link", "add", link.host, "type", "veth", "peer", "name", link.inside, "netns", link.namespace);
    await ip("addr", "add", `${subnet}.1/24`, "dev", link.host);
    await ip("link", "set", link.host, "up");
    await ip("-n", link.namespace, "link", "set", "lo", "up");
    await ip("-n", link.namespace, "addr", "add", `${subnet}.254/24`, "dev", link.inside);
    // nodad: usable at once instead of after duplicate address detection.
    await ip("-6", "addr", "add", `${subnet6}1/64`, "dev", link.host, "nodad");
    await ip("-n", link.namespace, "-6", "addr", "add", `${subnet6}fe/64`, "dev", link.inside, "nodad");
    await ip("-n", link.namespace, "link", "set", link.inside, "up");
  } catch (err) {
    await remove();
    throw err;
  }
  const address = (i: number) => `${subnet}.${i + 1}`;
  return {
    namespace: link.namespace,
    hostAddress: `${subnet}.1`,
    hostAddress6: `${subnet6}1`,
    hostDevice: link.host,
    address,
    add: async (i) => {
      await ip("-n", link.namespace, "addr", "add", `${address(i)}/24`, "dev", link.inside);
      return address(i);
    },
    add6: async (suffix) => {
      await ip("-n", link.namespace, "-6", "addr", "add", `${subnet6}${suffix}/64`, "dev", link.inside, "nodad");
      return `${subnet6}${suffix}`;
    },
    silence: async (i) => {
      await ip("-n", link.namespace, "addr", "del", `${address(i)}/24`, "dev", link.inside);
    },
    addHostAddress: async (i) => {
      await ip("addr", "add", `${address(i)}/24`, "dev", link.host);
      return address(i);
    },
    addHostAddress6: async (suffix) => {
      const address6 = `${subnet6}${suffix}`;
      await ip("-6", "addr", "add", `${address6}/128`, "dev", link.host, "nodad", "preferred_lft", "0");
      return address6;
    },
    dropRepliesToHost: async (from) => {
      const v6 = from?.includes(":") === true;
      const ns = ["-n", link.namespace, ...(v6 ? ["-6"] : [])];
      const host = v6 ? `${subnet6}1/128` : `${subnet}.1/32`;
      const table = from === undefined ? [] : ["table", ONE_ADDRESS_TABLE];
      const rule = from === undefined ? [] : ["from", `${from}/${v6 ? 128 : 32}`, ...table, "pref", ONE_ADDRESS_TABLE];
      await ip(...ns, "route", "add", "blackhole", host, ...table);
      if (from !== undefined) await ip(...ns, "rule", "add", ...rule);
      return {
        restore: async () => {
          if (from !== undefined) await ip(...ns, "rule", "del", ...rule);
          await ip(...ns, "route", "del", "blackhole", host, ...table);
        },
      };
    },
    remove,
  };
}

const sendChild = fileURLToPath(new URL("./netns-send-child.ts", import.meta.url));

/** Sends `datagrams` from `from`, an address of namespace `namespace`, to `to` (host:port), from inside it. */
export async function sendFromNamespace(
  namespace: string,
  from: string,
  to: string,
  datagrams: readonly Buffer[],
): Promise<void> {
  const args = [
    "netns",
    "exec",
    namespace,
    process.execPath,
    sendChild,
    from,
    to,
    ...datagrams.map((d) => d.toString("base64")),
  ];
  await run("ip", args, { timeout: 30_000 });
}
