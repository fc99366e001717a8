// Network namespaces for tests: a "node" and a "router" joined by a veth pair, created by the test and removed
// afterwards. Nothing leaves them: addresses are private, and no namespace is connected to the host's network.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
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
