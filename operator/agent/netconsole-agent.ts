// The node agent: keeps one netconsole target per receiver (`lastgasp`, `lastgasp-2`, …) pointing at it along
// the path the kernel would route, re-checks periodically, and writes a self-test line after every change and
// at a steady interval so the receiver can tell the node is covered. Stopping leaves the targets in place: a
// node keeps its last gasp while the agent restarts. Only `remove` takes them away.
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { readFile } from "node:fs/promises";
import type { agentSettings } from "../config/agent.ts";
import type { SettingValues } from "../config/settings.ts";
import { formatSelfTest, formatUnavailable } from "../api/selftest.ts";
import type { Clock } from "../clock.ts";
import { repeatEvery } from "../concurrency.ts";
import { splitHostPort } from "../http.ts";
import type { Logger } from "../log.ts";
import type { ConfigfsOp, ObservedTarget, TargetFeatures } from "./target.ts";
import { readConsoleLevel, writeKernelLog } from "./kmsg.ts";
import type { UnavailableSender } from "./report.ts";
import type { NetconsolePath, PathResolver } from "./route.ts";
import { planRemoval, planTarget, USERDATA_VALUE_MAX, withinFeatures, type DesiredTarget } from "./target.ts";

export type AgentConfig = SettingValues<typeof agentSettings>;

export const TARGET_NAME = "lastgasp";
const OWNED = /^lastgasp(-[0-9]+)?$/;

/** `lastgasp` for the first receiver, `lastgasp-2`, `lastgasp-3`, … for the others. */
export function targetName(index: number): string {
  return index === 0 ? TARGET_NAME : `${TARGET_NAME}-${index + 1}`;
}

export function desiredTarget(
  name: string,
  path: NetconsolePath,
  ports: { local: number; remote: number },
  userdata: Record<string, string>,
): DesiredTarget {
  return {
    name,
    attributes: {
      dev_name: path.device,
      local_port: String(ports.local),
      remote_port: String(ports.remote),
      local_ip: path.localIp,
      remote_ip: path.remoteIp,
      remote_mac: path.remoteMac,
      extended: "1",
      release: "1",
    },
    userdata,
  };
}

export interface CheckResult {
  /** Targets whose configuration was written this time. */
  readonly changed: string[];
  /** Whether the self-test line was written. */
  readonly selfTested: boolean;
}

/** What the agent needs of configfs (NetconsoleConfigfs; a model of the kernel's rules in tests). */
export interface TargetStore {
  ensureAvailable(loadModule: boolean): Promise<void>;
  targets(): Promise<string[]>;
  read(name: string): Promise<ObservedTarget>;
  /** What an existing target of this kernel offers. */
  features(name: string): Promise<TargetFeatures>;
  apply(ops: readonly ConfigfsOp[]): Promise<void>;
}

export interface AgentDeps {
  readonly configfs: TargetStore;
  readonly resolver: PathResolver;
  readonly log: Logger;
  /** Where the unavailable report goes (report.ts); none: it is only logged. */
  readonly reportUnavailable?: UnavailableSender;
  readonly clock: Clock;
}

export class NetconsoleAgent {
  private readonly config: AgentConfig;
  private readonly deps: AgentDeps;
  private lastSelfTestMs = Number.NEGATIVE_INFINITY;
  /** The last unavailable report sent: its reason, when, and how often it was repeated (the gap doubles). */
  private lastReport: { reason: string; atMs: number; repeats: number } | undefined;
  private stopChecking: () => Promise<void> = () => Promise.resolve();
  /** Whether missing kernel features were already reported. */
  private warned = false;
  /** Whether userdata too long for the kernel was already reported. */
  private warnedUserdata = false;

  constructor(config: AgentConfig, deps: AgentDeps) {
    this.config = config;
    this.deps = deps;
  }

  /** One pass: resolve every receiver's path, apply what differs, remove stale targets, self-test if due. */
  async check(): Promise<CheckResult> {
    try {
      await this.deps.configfs.ensureAvailable(this.config.loadModule);
    } catch (err) {
      // Nothing to configure on this kernel: say so where the cluster can see it, and stay up (no crash loop).
      await this.reportUnavailable((err as Error).message);
      throw err;
    }
    this.lastReport = undefined;
    const bootId = await this.bootId();
    const userdata = this.userdata(bootId);
    const changed: string[] = [];
    const failures: string[] = [];
    const names = this.config.receivers.map((_, index) => targetName(index));
    for (const [index, receiver] of this.config.receivers.entries()) {
      // One unreachable receiver must not keep the others from being configured.
      try {
        if (await this.configure(names[index]!, receiver, userdata)) changed.push(names[index]!);
      } catch (err) {
        failures.push(`${receiver}: ${(err as Error).message}`);
      }
    }
    changed.push(...(await this.removeStale(new Set(names))));
    const selfTested = await this.selfTestIfDue(changed.length > 0, bootId);
    if (failures.length > 0) throw new Error(failures.join("; "));
    return { changed, selfTested };
  }

  /** Brings one target in line with the path to its receiver; true when anything was written. */
  private async configure(name: string, receiver: string, userdata: Record<string, string>): Promise<boolean> {
    const { host, port } = splitHostPort(receiver);
    const path = await this.deps.resolver.resolve(await resolveHost(host), this.sourceIp());
    const store = this.deps.configfs;
    let observed = await store.read(name);
    if (!observed.exists) {
      // Created first, so the kernel shows which attributes it has before anything is written.
      await store.apply([{ op: "mkdir", path: name }]);
      observed = await store.read(name);
    }
    const features = await store.features(name);
    this.warnMissing(features);
    const ports = { local: this.config.localPort, remote: port };
    const desired = withinFeatures(desiredTarget(name, path, ports, userdata), features);
    const ops = planTarget(observed, desired);
    if (ops.length === 0) return false;
    await store.apply(ops);
    this.deps.log.info("Configured netconsole target", { target: name, receiver, ...path, writes: ops.length });
    return true;
  }

  /** Checks now and then every checkIntervalSeconds; a failed check is logged and tried again next time. */
  start(): void {
    // A slow check (neighbour probing, a stuck `ip`) is never overlapped by the next.
    this.stopChecking = repeatEvery(
      this.deps.clock,
      this.config.checkIntervalSeconds * 1000,
      async () => this.check(),
      (err) => {
        this.deps.log.error("Failed to configure netconsole", { err });
      },
    );
  }

  /** Stops checking and leaves every target as it is. */
  async stop(): Promise<void> {
    await this.stopChecking();
  }

  /** Removes every target this agent owns. */
  async remove(): Promise<string[]> {
    try {
      await this.deps.configfs.ensureAvailable(false);
    } catch {
      return []; // no netconsole directory (module not loaded, configfs not mounted): no target to remove
    }
    return this.removeStale(new Set());
  }

  private async removeStale(wanted: ReadonlySet<string>): Promise<string[]> {
    const stale = (await this.deps.configfs.targets()).filter((n) => OWNED.test(n) && !wanted.has(n));
    for (const name of stale) {
      await this.deps.configfs.apply(planRemoval(name, await this.deps.configfs.read(name)));
      this.deps.log.info("Removed netconsole target", { target: name });
    }
    return stale;
  }

  private async selfTestIfDue(changed: boolean, bootId: string): Promise<boolean> {
    const now = this.deps.clock.monotonicMs();
    if (!this.config.selfTest) return false;
    if (!changed && now - this.lastSelfTestMs < this.config.selfTestIntervalSeconds * 1000) return false;
    const level = await readConsoleLevel(this.config.printkPath);
    const line = formatSelfTest({ node: this.config.nodeName, bootId });
    await writeKernelLog(this.config.kmsgPath, level, line);
    this.lastSelfTestMs = now;
    this.deps.log.debug("Wrote netconsole self-test", { level });
    return true;
  }

  /**
   * Sends the unavailable report when the reason is new, and again while it holds: first at the check interval,
   * the gap doubling up to selfTestIntervalSeconds. A datagram sent before any receiver listens is lost (on a
   * fresh install the agent and the receivers start together: seen on a real kubelet, test/e2e); the early
   * repeats get the reason to the Node within a minute, the doubling keeps a fleet of such nodes quiet.
   */
  private async reportUnavailable(reason: string): Promise<void> {
    const now = this.deps.clock.monotonicMs();
    const last = this.lastReport?.reason === reason ? this.lastReport : undefined;
    const gapMs =
      Math.min(this.config.checkIntervalSeconds * 2 ** (last?.repeats ?? 0), this.config.selfTestIntervalSeconds) *
      1000;
    const due = last === undefined || now - last.atMs >= gapMs;
    if (this.deps.reportUnavailable === undefined || !due) return;
    const line = formatUnavailable({ node: this.config.nodeName, bootId: await this.bootId(), reason });
    try {
      await this.deps.reportUnavailable(line);
      this.lastReport = { reason, atMs: now, repeats: last === undefined ? 0 : last.repeats + 1 };
      this.deps.log.warn("This node cannot send its last gasp: reported to the receivers", { reason });
    } catch (err) {
      this.deps.log.error("Could not report that netconsole is unavailable", { err });
    }
  }

  /** Once: an older kernel still sends panics, with less said about the node. */
  private warnMissing(features: TargetFeatures): void {
    if (this.warned || (features.release && features.userdata)) return;
    this.warned = true;
    this.deps.log.warn("Configured netconsole without what this kernel lacks", {
      release: features.release ? "sent" : "not sent (netconsole has no release attribute before Linux 6.5)",
      userdata: features.userdata
        ? "sent"
        : "not sent (netconsole has no userdata before Linux 6.9): the reconciler matches the node by address only",
    });
  }

  /**
   * node= and boot_id=, without a value the kernel cannot hold (a node name may have 253 characters, a userdata
   * value 199): sending the target without it beats a target that is never enabled.
   */
  private userdata(bootId: string): Record<string, string> {
    const wanted = { node: this.config.nodeName, boot_id: bootId };
    const kept = Object.fromEntries(
      Object.entries(wanted).filter(([, value]) => Buffer.byteLength(value) <= USERDATA_VALUE_MAX),
    );
    const dropped = Object.keys(wanted).filter((key) => !(key in kept));
    if (dropped.length > 0 && !this.warnedUserdata) {
      this.warnedUserdata = true;
      this.deps.log.warn("Userdata left out: longer than netconsole keeps", {
        keys: dropped,
        maxBytes: USERDATA_VALUE_MAX,
        effect: "the reconciler matches the node by address only",
      });
    }
    return kept;
  }

  private sourceIp(): string | undefined {
    return this.config.sourceIp === "" ? undefined : this.config.sourceIp;
  }

  private async bootId(): Promise<string> {
    return (await readFile(this.config.bootIdPath, "utf8")).trim();
  }
}

/** A receiver given by name (a load balancer's DNS name) is looked up at every check: its address may move. */
async function resolveHost(host: string): Promise<string> {
  if (isIP(host) !== 0) return host;
  return (await lookup(host)).address;
}
