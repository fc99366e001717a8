import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { NetconsoleAgent, desiredTarget, targetName } from "../../operator/agent/netconsole-agent.ts";
import { selfTestLevel } from "../../operator/agent/kmsg.ts";
import { PathResolver, type IpCommand } from "../../operator/agent/route.ts";
import { ABSENT, planRemoval, planTarget, type ConfigfsOp } from "../../operator/agent/target.ts";
import { formatSelfTest, parseSelfTest } from "../../operator/api/selftest.ts";
import { createLogger } from "../../operator/log.ts";
import { testAgentConfig } from "../harness/agent-config.ts";
import { NetconsoleKernelModel } from "../harness/netconsole-kernel.ts";
import { ManualClock } from "../harness/clock.ts";

const BOOT_ID = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
const USERDATA = { node: "node-a", boot_id: BOOT_ID };

/** A node's routing, link and neighbour tables, answering `ip -j` the way iproute2 prints them. */
interface Tables {
  routes: Record<string, { dev: string; prefsrc: string; gateway?: string }>;
  links: Record<string, { link_type: string; address: string; up?: boolean }>;
  neighbours: Record<string, { lladdr?: string; state: string[] }>;
  /** Neighbours that appear once probed (the kernel's ARP/ND answer). */
  onProbe?: Record<string, { lladdr: string; state: string[] }>;
}

function fakeIp(tables: Tables): { ip: IpCommand; probes: string[]; probe: (a: string, d: string) => Promise<void> } {
  const probes: string[] = [];
  const ip: IpCommand = (args) => {
    // route get <dst>; link show dev <dev>; neigh show to <address> dev <dev>
    const [object, , second = "", third = ""] = args;
    if (object === "route") {
      const route = tables.routes[second];
      return Promise.resolve(route === undefined ? [] : [{ dst: second, ...route, flags: [] }]);
    }
    if (object === "link") {
      const link = tables.links[third];
      if (link === undefined) return Promise.resolve([]);
      const flags = link.up === false ? ["BROADCAST"] : ["BROADCAST", "UP", "LOWER_UP"];
      return Promise.resolve([{ ifname: third, flags, link_type: link.link_type, address: link.address }]);
    }
    const neighbour = tables.neighbours[third];
    return Promise.resolve(neighbour === undefined ? [] : [{ dst: third, ...neighbour }]);
  };
  const probe = (address: string, device: string) => {
    probes.push(`${address}%${device}`);
    const answer = tables.onProbe?.[address];
    if (answer !== undefined) tables.neighbours[address] = answer;
    return Promise.resolve();
  };
  return { ip, probes, probe };
}

const GATEWAY_MAC = "52:54:00:aa:bb:01";
const RECEIVER_MAC = "52:54:00:cc:dd:02";

function nodeTables(): Tables {
  return {
    routes: {
      "10.0.1.50": { dev: "eth0", prefsrc: "10.0.1.23" },
      "10.9.0.7": { dev: "eth0", prefsrc: "10.0.1.23", gateway: "10.0.1.1" },
      "fd00:1::50": { dev: "eth0", prefsrc: "fd00:1::23" },
      "fd00:9::7": { dev: "eth0", prefsrc: "fd00:1::23", gateway: "fe80::1" },
    },
    links: { eth0: { link_type: "ether", address: "52:54:00:00:00:23" } },
    neighbours: {
      "10.0.1.1": { lladdr: GATEWAY_MAC, state: ["REACHABLE"] },
      "10.0.1.50": { lladdr: RECEIVER_MAC.toUpperCase(), state: ["STALE"] },
      "fe80::1": { lladdr: GATEWAY_MAC, state: ["DELAY"] },
      "fd00:1::50": { lladdr: RECEIVER_MAC, state: ["REACHABLE"] },
    },
  };
}

async function plannedFromScratch(receiver: string, port = 6666): Promise<ConfigfsOp[]> {
  const { ip, probe } = fakeIp(nodeTables());
  const path = await new PathResolver({ neighbourTimeoutMs: 100, ip, probe }).resolve(receiver);
  return planTarget(ABSENT, desiredTarget("lastgasp", path, { local: 6665, remote: port }, USERDATA));
}

/** Exactly the writes a new target needs: attributes while disabled, extended before release, enable last. */
function expectedNewTarget(a: { localIp: string; remoteIp: string; mac: string }): ConfigfsOp[] {
  const w = (file: string, value: string): ConfigfsOp => ({ op: "write", path: `lastgasp/${file}`, value });
  return [
    { op: "mkdir", path: "lastgasp" },
    w("dev_name", "eth0"),
    w("local_port", "6665"),
    w("remote_port", "6666"),
    w("local_ip", a.localIp),
    w("remote_ip", a.remoteIp),
    w("remote_mac", a.mac),
    w("extended", "1"),
    w("release", "1"),
    { op: "mkdir", path: "lastgasp/userdata/node" },
    w("userdata/node/value", "node-a"),
    { op: "mkdir", path: "lastgasp/userdata/boot_id" },
    w("userdata/boot_id/value", BOOT_ID),
    w("enabled", "1"),
  ];
}

describe("netconsole target plan", () => {
  it("same-subnet IPv4 receiver: the receiver's own MAC, every attribute before enabling", async () => {
    const ops = await plannedFromScratch("10.0.1.50");
    assert.deepEqual(ops, expectedNewTarget({ localIp: "10.0.1.23", remoteIp: "10.0.1.50", mac: RECEIVER_MAC }));
    const kernel = new NetconsoleKernelModel();
    await kernel.apply(ops);
    assert.deepEqual(await kernel.read("lastgasp").then((t) => [t.enabled, t.attributes.remote_mac]), [
      true,
      RECEIVER_MAC,
    ]);
  });

  it("routed IPv4 receiver: the gateway's MAC, the receiver's IP", async () => {
    const ops = await plannedFromScratch("10.9.0.7");
    assert.deepEqual(ops, expectedNewTarget({ localIp: "10.0.1.23", remoteIp: "10.9.0.7", mac: GATEWAY_MAC }));
    await new NetconsoleKernelModel().apply(ops);
  });

  it("same-subnet IPv6 receiver", async () => {
    const ops = await plannedFromScratch("fd00:1::50");
    assert.deepEqual(ops, expectedNewTarget({ localIp: "fd00:1::23", remoteIp: "fd00:1::50", mac: RECEIVER_MAC }));
  });

  it("routed IPv6 receiver through a link-local gateway", async () => {
    const ops = await plannedFromScratch("fd00:9::7");
    assert.deepEqual(ops, expectedNewTarget({ localIp: "fd00:1::23", remoteIp: "fd00:9::7", mac: GATEWAY_MAC }));
  });

  it("plans nothing for a target that already matches (IPv6 written in another form, MAC in capitals)", async () => {
    const kernel = new NetconsoleKernelModel();
    await kernel.apply(await plannedFromScratch("fd00:1::50"));
    const observed = await kernel.read("lastgasp");
    const desired = desiredTarget(
      "lastgasp",
      {
        device: "eth0",
        localIp: "fd00:1:0::23",
        remoteIp: "FD00:1::0050",
        nextHop: "",
        remoteMac: RECEIVER_MAC.toUpperCase(),
      },
      { local: 6665, remote: 6666 },
      USERDATA,
    );
    assert.deepEqual(planTarget(observed, desired), []);
  });

  it("a changed MAC on an enabled target: disable, write the MAC, enable, and nothing else", async () => {
    const kernel = new NetconsoleKernelModel();
    await kernel.apply(await plannedFromScratch("10.9.0.7"));
    const newMac = "52:54:00:aa:bb:99";
    const path = { device: "eth0", localIp: "10.0.1.23", remoteIp: "10.9.0.7", nextHop: "10.0.1.1", remoteMac: newMac };
    const ops = planTarget(
      await kernel.read("lastgasp"),
      desiredTarget("lastgasp", path, { local: 6665, remote: 6666 }, USERDATA),
    );
    assert.deepEqual(ops, [
      { op: "write", path: "lastgasp/enabled", value: "0" },
      { op: "write", path: "lastgasp/remote_mac", value: newMac },
      { op: "write", path: "lastgasp/enabled", value: "1" },
    ]);
    await kernel.apply(ops);
    assert.equal((await kernel.read("lastgasp")).attributes.remote_mac, newMac);
  });

  it("userdata changes while enabled without disabling; stale keys are removed", async () => {
    const kernel = new NetconsoleKernelModel();
    await kernel.apply(await plannedFromScratch("10.0.1.50"));
    await kernel.apply([{ op: "mkdir", path: "lastgasp/userdata/old" }]);
    const path = {
      device: "eth0",
      localIp: "10.0.1.23",
      remoteIp: "10.0.1.50",
      nextHop: "10.0.1.50",
      remoteMac: RECEIVER_MAC,
    };
    const rebooted = { node: "node-a", boot_id: "11111111-2222-4333-8444-555555555555" };
    const ops = planTarget(
      await kernel.read("lastgasp"),
      desiredTarget("lastgasp", path, { local: 6665, remote: 6666 }, rebooted),
    );
    assert.deepEqual(ops, [
      { op: "rmdir", path: "lastgasp/userdata/old" },
      { op: "write", path: "lastgasp/userdata/boot_id/value", value: rebooted.boot_id },
    ]);
    await kernel.apply(ops);
  });

  it("re-enables a target the kernel disabled (its device went away and came back)", async () => {
    const kernel = new NetconsoleKernelModel();
    const ops = await plannedFromScratch("10.0.1.50");
    await kernel.apply(ops);
    kernel.disable("lastgasp");
    const desired = desiredTarget(
      "lastgasp",
      { device: "eth0", localIp: "10.0.1.23", remoteIp: "10.0.1.50", nextHop: "10.0.1.50", remoteMac: RECEIVER_MAC },
      { local: 6665, remote: 6666 },
      USERDATA,
    );
    assert.deepEqual(planTarget(await kernel.read("lastgasp"), desired), [
      { op: "write", path: "lastgasp/enabled", value: "1" },
    ]);
  });

  it("the kernel model refuses what the kernel refuses, so a wrong order cannot pass", async () => {
    const kernel = new NetconsoleKernelModel();
    await kernel.apply(await plannedFromScratch("10.0.1.50"));
    await assert.rejects(kernel.apply([{ op: "write", path: "lastgasp/remote_mac", value: GATEWAY_MAC }]), /EINVAL/);
    await assert.rejects(kernel.apply([{ op: "write", path: "lastgasp/enabled", value: "1" }]), /already started/);
    await assert.rejects(kernel.apply([{ op: "rmdir", path: "lastgasp" }]), /ENOTEMPTY/);
    const fresh = new NetconsoleKernelModel();
    await assert.rejects(
      fresh.apply([
        { op: "mkdir", path: "t" },
        { op: "write", path: "t/release", value: "1" },
        { op: "write", path: "t/enabled", value: "1" },
      ]),
      /requires extended/,
    );
  });

  it("removal disables, removes userdata entries, then the target", async () => {
    const kernel = new NetconsoleKernelModel();
    await kernel.apply(await plannedFromScratch("10.0.1.50"));
    const ops = planRemoval("lastgasp", await kernel.read("lastgasp"));
    assert.deepEqual(ops, [
      { op: "write", path: "lastgasp/enabled", value: "0" },
      { op: "rmdir", path: "lastgasp/userdata/node" },
      { op: "rmdir", path: "lastgasp/userdata/boot_id" },
      { op: "rmdir", path: "lastgasp" },
    ]);
    await kernel.apply(ops);
    assert.deepEqual(await kernel.targets(), []);
  });
});

describe("PathResolver", () => {
  it("probes a missing neighbour and uses the MAC the kernel resolved", async () => {
    const tables = nodeTables();
    delete tables.neighbours["10.0.1.1"];
    tables.onProbe = { "10.0.1.1": { lladdr: GATEWAY_MAC, state: ["REACHABLE"] } };
    const { ip, probe, probes } = fakeIp(tables);
    const path = await new PathResolver({ neighbourTimeoutMs: 1000, ip, probe }).resolve("10.9.0.7");
    assert.deepEqual(probes, ["10.0.1.1%eth0"]);
    assert.deepEqual(path, {
      device: "eth0",
      localIp: "10.0.1.23",
      remoteIp: "10.9.0.7",
      nextHop: "10.0.1.1",
      remoteMac: GATEWAY_MAC,
    });
  });

  it("an INCOMPLETE entry counts as missing; no answer gives a clear error", async () => {
    const tables = nodeTables();
    tables.neighbours["10.0.1.1"] = { state: ["INCOMPLETE"] };
    const { ip, probe, probes } = fakeIp(tables);
    await assert.rejects(
      new PathResolver({ neighbourTimeoutMs: 150, ip, probe }).resolve("10.9.0.7"),
      /no MAC for next hop 10\.0\.1\.1 on eth0 within 150 ms/,
    );
    assert.equal(probes.length, 1);
  });

  it("uses the configured source address instead of the route's", async () => {
    const { ip, probe } = fakeIp(nodeTables());
    const path = await new PathResolver({ neighbourTimeoutMs: 100, ip, probe }).resolve("10.0.1.50", "10.0.1.99");
    assert.equal(path.localIp, "10.0.1.99");
  });

  it("refuses what netconsole cannot send through: no route, a non-Ethernet device, a device that is down", async () => {
    const tables = nodeTables();
    const resolve = (t: Tables, to: string) => {
      const { ip, probe } = fakeIp(t);
      return new PathResolver({ neighbourTimeoutMs: 100, ip, probe }).resolve(to);
    };
    await assert.rejects(resolve(tables, "192.0.2.1"), /no route to 192\.0\.2\.1/);
    tables.links.eth0 = { link_type: "none", address: "" };
    await assert.rejects(resolve(tables, "10.0.1.50"), /eth0 is none: netconsole sends Ethernet frames only/);
    tables.links.eth0 = { link_type: "ether", address: "52:54:00:00:00:23", up: false };
    await assert.rejects(resolve(tables, "10.0.1.50"), /eth0 is down/);
  });
});

describe("self-test line", () => {
  it("round-trips and rejects lines that are not exactly ours", () => {
    const line = formatSelfTest({ node: "ip-10-0-1-23.ec2.internal", bootId: BOOT_ID });
    assert.deepEqual(parseSelfTest(line), { node: "ip-10-0-1-23.ec2.internal", bootId: BOOT_ID });
    assert.equal(parseSelfTest(`${line} extra`), undefined);
    assert.equal(parseSelfTest(line.replace("node=ip", "node=IP")), undefined);
    assert.equal(parseSelfTest("Kernel panic - not syncing: x"), undefined);
    assert.throws(() => formatSelfTest({ node: "Bad_Name", bootId: BOOT_ID }), /DNS subdomain/);
  });

  it("goes out at a level below the console loglevel, KERN_WARNING when allowed", () => {
    assert.equal(selfTestLevel("7\t4\t1\t7\n"), 4);
    assert.equal(selfTestLevel("4 4 1 7"), 3);
    assert.equal(selfTestLevel("1 4 1 7"), 0);
    assert.throws(() => selfTestLevel("garbage"), /console loglevel/);
  });
});

describe("NetconsoleAgent", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "lastgasp-agent-"));
    await writeFile(join(dir, "printk"), "7 4 1 7\n");
    await writeFile(join(dir, "boot_id"), `${BOOT_ID}\n`);
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  /** An agent on the kernel model (a new one unless given) with `tables` as the node's network tables. */
  function agentWith(
    tables: Tables,
    receivers: string[],
    clock = new ManualClock(),
    kernel = new NetconsoleKernelModel(),
    nodeName = "node-a",
  ) {
    const { ip, probe } = fakeIp(tables);
    const kmsg = join(dir, `kmsg-${Math.random()}`);
    const config = testAgentConfig(dir, { receivers, nodeName, kmsgPath: kmsg });
    const agent = new NetconsoleAgent(config, {
      configfs: kernel,
      resolver: new PathResolver({ neighbourTimeoutMs: 100, ip, probe }),
      log: createLogger("silent", "agent"),
      clock,
    });
    const selfTests = async () => (await readFile(kmsg, "utf8").catch(() => "")).split("\n").filter((l) => l !== "");
    return { agent, kernel, selfTests };
  }

  it("configures, leaves a matching target alone, re-applies after a MAC change, and self-tests after each change", async () => {
    const tables = nodeTables();
    const clock = new ManualClock();
    const { agent, kernel, selfTests } = agentWith(tables, ["10.9.0.7:6666", "10.0.1.50:7000"], clock);
    assert.deepEqual(await agent.check(), { changed: ["lastgasp", "lastgasp-2"], selfTested: true });
    assert.deepEqual(await selfTests(), [`<4>lastgasp netconsole self-test node=node-a boot_id=${BOOT_ID}`]);

    await clock.advance(30_000);
    const before = kernel.log.length;
    assert.deepEqual(await agent.check(), { changed: [], selfTested: false });
    assert.equal(kernel.log.length, before, "no write when nothing changed");

    tables.neighbours["10.0.1.1"] = { lladdr: "52:54:00:aa:bb:99", state: ["REACHABLE"] };
    await clock.advance(30_000);
    assert.deepEqual(await agent.check(), { changed: ["lastgasp"], selfTested: true });
    assert.deepEqual(kernel.log.slice(before), [
      { op: "write", path: "lastgasp/enabled", value: "0" },
      { op: "write", path: "lastgasp/remote_mac", value: "52:54:00:aa:bb:99" },
      { op: "write", path: "lastgasp/enabled", value: "1" },
    ]);
    await clock.advance(300_000);
    assert.deepEqual(await agent.check(), { changed: [], selfTested: true }, "the periodic self-test");
    assert.equal((await selfTests()).length, 3);
  });

  it("follows a moved receiver, removes targets of receivers no longer configured, and keeps going past a failing one", async () => {
    const clock = new ManualClock();
    const tables = nodeTables();
    const first = agentWith(tables, ["10.0.1.50:6666", "10.9.0.7:6666", "[fd00:1::50]:6666"], clock);
    await first.agent.check();
    assert.deepEqual(await first.kernel.targets(), ["lastgasp", "lastgasp-2", "lastgasp-3"]);

    const second = agentWith(tables, ["192.0.2.1:6666", "10.0.1.50:6666"], clock, first.kernel).agent;
    await assert.rejects(second.check(), /192\.0\.2\.1:6666: no route to 192\.0\.2\.1/);
    assert.deepEqual(await first.kernel.targets(), ["lastgasp", "lastgasp-2"]);
    const moved = await first.kernel.read("lastgasp-2");
    assert.equal(moved.attributes.remote_ip, "10.0.1.50");
    assert.equal(moved.enabled, true);
    assert.equal(
      (await first.kernel.read("lastgasp")).attributes.remote_ip,
      "10.0.1.50",
      "the failing one is left as it was",
    );
  });

  it("on an older kernel (no release before 6.5, no userdata before 6.9) configures what it has", async () => {
    const kernel = new NetconsoleKernelModel({ release: false, userdata: false });
    const { agent } = agentWith(nodeTables(), ["10.0.1.50:6666"], new ManualClock(), kernel);
    assert.deepEqual((await agent.check()).changed, ["lastgasp"]);
    const target = await kernel.read("lastgasp");
    assert.equal(target.enabled, true);
    assert.equal(target.attributes.extended, "1");
    assert.equal(target.attributes.release, undefined);
    assert.deepEqual(target.userdata, {});
  });

  it("a node name longer than a netconsole userdata value (199 bytes) is left out; the target still sends", async () => {
    const long = `n${"x".repeat(252)}`; // Kubernetes allows 253 characters
    const { agent, kernel } = agentWith(nodeTables(), ["10.0.1.50:6666"], new ManualClock(), undefined, long);
    assert.deepEqual((await agent.check()).changed, ["lastgasp"]);
    const target = await kernel.read("lastgasp");
    assert.equal(target.enabled, true);
    assert.deepEqual(target.userdata, { boot_id: BOOT_ID });
  });

  it("remove takes away only lastgasp's targets", async () => {
    const { agent, kernel } = agentWith(nodeTables(), ["10.0.1.50:6666"]);
    await agent.check();
    await kernel.apply([{ op: "mkdir", path: "someone-else" }]);
    assert.deepEqual(await agent.remove(), ["lastgasp"]);
    assert.deepEqual(await kernel.targets(), ["someone-else"]);
  });

  it("names targets lastgasp, lastgasp-2, …", () => {
    assert.deepEqual([0, 1, 2].map(targetName), ["lastgasp", "lastgasp-2", "lastgasp-3"]);
  });
});
