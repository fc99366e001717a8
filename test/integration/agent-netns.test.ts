// The agent's route and MAC resolution against real kernel routing and neighbour tables, in network namespaces
// this test creates: `lastgasp agent --once` runs inside the "node" namespace and writes a stand-in configfs
// directory (real configfs and the netconsole module cannot be loaded here). The neighbour table starts empty,
// so every MAC below was resolved actively, by the agent's probe.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { parseSelfTest } from "../../operator/api/selftest.ts";
import { standInNode, type StandInNode } from "../harness/agent-node.ts";
import { ip, macOf, skipUnlessNetns, twoHosts, type TwoHosts } from "../harness/netns.ts";

const bin = fileURLToPath(new URL("../../bin/lastgasp.ts", import.meta.url));
const BOOT_ID = "6b1a7f0e-9c2d-4e3f-8a4b-5c6d7e8f9a0b";
const skip = await skipUnlessNetns();

describe("agent in network namespaces", { skip }, () => {
  let hosts: TwoHosts;
  let dir: string;
  before(async () => {
    hosts = await twoHosts();
    dir = await mkdtemp(join(tmpdir(), "lastgasp-agent-netns-"));
  });
  after(async () => {
    await hosts.remove();
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs `lastgasp agent <mode>` in the node's namespace against a stand-in node's files. */
  async function agent(mode: "--once" | "--remove", node: StandInNode, receivers: string): Promise<void> {
    const args = [bin, "agent", mode, "--receivers", receivers, "--node-name", "node-a", "--log-level", "error"];
    await promisify(execFile)("ip", ["netns", "exec", hosts.node, process.execPath, ...args, ...node.flags], {
      timeout: 60_000,
    });
  }

  async function newNode(): Promise<StandInNode> {
    return standInNode(await mkdtemp(join(dir, "node-")), BOOT_ID);
  }

  async function target(node: StandInNode, name = "lastgasp"): Promise<Record<string, string>> {
    const read = async (file: string) =>
      (await readFile(join(node.configfsRoot, "netconsole", name, file), "utf8")).trim();
    const files = [
      "enabled",
      "dev_name",
      "local_ip",
      "remote_ip",
      "remote_mac",
      "remote_port",
      "local_port",
      "extended",
      "release",
    ];
    const values: Record<string, string> = {};
    for (const file of files) values[file] = await read(file);
    values.node = await read("userdata/node/value");
    values.boot_id = await read("userdata/boot_id/value");
    return values;
  }

  async function flushNeighbours(): Promise<void> {
    await ip("-n", hosts.node, "neigh", "flush", "dev", hosts.nodeDevice);
    await ip("-n", hosts.node, "-6", "neigh", "flush", "dev", hosts.nodeDevice);
  }

  const common = (mac: string) => ({
    enabled: "1",
    local_port: "6665",
    extended: "1",
    release: "1",
    node: "node-a",
    boot_id: BOOT_ID,
    remote_mac: mac,
  });

  it("IPv4, same subnet: the receiver's MAC; routed: the gateway's MAC with the receiver's IP", async () => {
    await flushNeighbours();
    const node = await newNode();
    const routerMac = await macOf(hosts.router, hosts.routerDevice);
    await agent("--once", node, "10.201.0.1:6666,10.202.0.9:7777");
    assert.deepEqual(await target(node), {
      ...common(routerMac),
      dev_name: hosts.nodeDevice,
      local_ip: "10.201.0.2",
      remote_ip: "10.201.0.1",
      remote_port: "6666",
    });
    assert.deepEqual(await target(node, "lastgasp-2"), {
      ...common(routerMac),
      dev_name: hosts.nodeDevice,
      local_ip: "10.201.0.2",
      remote_ip: "10.202.0.9",
      remote_port: "7777",
    });
    const line = (await readFile(node.kmsgPath, "utf8")).trim();
    assert.match(line, /^<4>/);
    assert.deepEqual(parseSelfTest(line.slice(3)), { node: "node-a", bootId: BOOT_ID });
  });

  it("IPv6, same subnet and routed", async () => {
    await flushNeighbours();
    const node = await newNode();
    const routerMac = await macOf(hosts.router, hosts.routerDevice);
    await agent("--once", node, "[fd00:201::1]:6666,[fd00:202::9]:6666");
    const v6 = { ...common(routerMac), dev_name: hosts.nodeDevice, local_ip: "fd00:201::2", remote_port: "6666" };
    assert.deepEqual(await target(node), { ...v6, remote_ip: "fd00:201::1" });
    assert.deepEqual(await target(node, "lastgasp-2"), { ...v6, remote_ip: "fd00:202::9" });
  });

  it("re-applies the new MAC after the gateway's MAC changes, and --remove removes the targets", async () => {
    await flushNeighbours();
    const node = await newNode();
    await agent("--once", node, "10.202.0.9:6666");
    const oldMac = (await target(node)).remote_mac;
    const newMac = "02:00:5e:10:20:30";
    assert.notEqual(oldMac, newMac);
    await ip("-n", hosts.router, "link", "set", "dev", hosts.routerDevice, "address", newMac);
    await flushNeighbours(); // as the gateway's gratuitous ARP, or the entry's expiry, would make it stale
    await agent("--once", node, "10.202.0.9:6666");
    assert.equal((await target(node)).remote_mac, newMac);
    await agent("--remove", node, "10.202.0.9:6666");
    assert.deepEqual(await ip("netns", "exec", hosts.node, "ls", "-A", join(node.configfsRoot, "netconsole")), "");
  });

  it("fails clearly, and configures nothing, when no MAC answers", async () => {
    const node = await newNode();
    await ip("-n", hosts.node, "route", "add", "10.203.0.0/24", "via", "10.201.0.77");
    await assert.rejects(agent("--once", node, "10.203.0.9:6666"), /no MAC for next hop 10\.201\.0\.77/);
    await assert.rejects(readFile(join(node.configfsRoot, "netconsole", "lastgasp", "remote_mac")), /ENOENT/);
  });
});
