// A model of the kernel's netconsole configfs (drivers/net/netconsole.c) for unit tests: it applies configfs
// operations with the kernel's refusals, so a plan in the wrong order fails here as it would on a node. Checked
// against real 6.1 and 6.12 kernels, operation by operation (test/kernel/agent.test.ts, configfs-rules.ts):
//   - mkdir <target> creates the target with the kernel's defaults and an empty userdata group;
//   - attributes other than `enabled` are refused (EINVAL) while enabled;
//   - writing `enabled` with its current value is refused; enabling with release but not extended is refused;
//   - userdata/<key> may be created, changed and removed while enabled; a target with userdata entries cannot be
//     removed (ENOTEMPTY), an enabled one can (the kernel stops it);
//   - a kernel without `release` refuses to create the file (EACCES); without userdata there is no userdata
//     directory (ENOENT);
//   - a userdata key has at most 53 characters, a value at most 199 (200 is E2BIG: the kernel's 200-byte buffer
//     keeps its terminating NUL; over 200 is EMSGSIZE), and a target at most 16 entries.
import type { TargetStore } from "../../operator/agent/netconsole-agent.ts";
import {
  type Attribute,
  type ConfigfsOp,
  type ObservedTarget,
  type TargetFeatures,
} from "../../operator/agent/target.ts";

interface ModelTarget {
  enabled: boolean;
  attributes: Partial<Record<Attribute, string>>;
  userdata: Map<string, string>;
}

const DEFAULTS: Record<Attribute, string> = {
  dev_name: "eth0",
  local_port: "6665",
  remote_port: "6666",
  local_ip: "0.0.0.0",
  remote_ip: "0.0.0.0",
  remote_mac: "ff:ff:ff:ff:ff:ff",
  extended: "0",
  release: "0",
};

export class KernelError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(`${code}: ${message}`);
    this.code = code;
  }
}

export class NetconsoleKernelModel implements TargetStore {
  readonly targetsByName = new Map<string, ModelTarget>();
  /** An older kernel: no `release` attribute (before 6.5), no userdata group (before 6.9). */
  private readonly kernelFeatures: TargetFeatures;

  constructor(features: TargetFeatures = { release: true, userdata: true }) {
    this.kernelFeatures = features;
  }

  features(): Promise<TargetFeatures> {
    return Promise.resolve(this.kernelFeatures);
  }
  /** Every operation applied, in order. */
  readonly log: ConfigfsOp[] = [];

  ensureAvailable(): Promise<void> {
    return Promise.resolve();
  }

  targets(): Promise<string[]> {
    return Promise.resolve([...this.targetsByName.keys()]);
  }

  read(name: string): Promise<ObservedTarget> {
    const target = this.targetsByName.get(name);
    if (target === undefined) return Promise.resolve({ exists: false, enabled: false, attributes: {}, userdata: {} });
    return Promise.resolve({
      exists: true,
      enabled: target.enabled,
      attributes: { ...target.attributes },
      userdata: Object.fromEntries(target.userdata),
    });
  }

  async apply(ops: readonly ConfigfsOp[]): Promise<void> {
    await Promise.resolve();
    for (const op of ops) {
      this.applyOne(op);
      this.log.push(op);
    }
  }

  /** What the kernel itself may do: a device going away disables the target. */
  disable(name: string): void {
    this.target(name).enabled = false;
  }

  private applyOne(op: ConfigfsOp): void {
    const [name = "", second, key, file] = op.path.split("/");
    if (second === undefined) {
      this.onTarget(op, name);
      return;
    }
    const target = this.target(name);
    if (second === "userdata") {
      if (!this.kernelFeatures.userdata) throw new KernelError("ENOENT", op.path);
      this.onUserdata(op, target, key ?? "", file);
      return;
    }
    if (op.op !== "write") throw new KernelError("EPERM", `${op.op} ${op.path}`);
    if (second === "enabled") {
      setEnabled(target, op.value);
      return;
    }
    // configfs makes no files: writing one the kernel lacks is creating it, which a group refuses.
    if (!(second in target.attributes)) throw new KernelError("EACCES", op.path);
    if (target.enabled) throw new KernelError("EINVAL", `target (${name}) is enabled, disable to update parameters`);
    target.attributes[second as Attribute] = op.value;
  }

  private onTarget(op: ConfigfsOp, name: string): void {
    if (op.op === "mkdir") {
      if (this.targetsByName.has(name)) throw new KernelError("EEXIST", name);
      const attributes: Partial<Record<Attribute, string>> = { ...DEFAULTS };
      if (!this.kernelFeatures.release) delete attributes.release;
      this.targetsByName.set(name, { enabled: false, attributes, userdata: new Map() });
      return;
    }
    if (op.op !== "rmdir") throw new KernelError("EISDIR", name);
    const target = this.target(name);
    if (target.userdata.size > 0) throw new KernelError("ENOTEMPTY", name);
    this.targetsByName.delete(name);
  }

  private onUserdata(op: ConfigfsOp, target: ModelTarget, key: string, file: string | undefined): void {
    if (op.op === "mkdir" && file === undefined) {
      if (key.length > 53) throw new KernelError("ENAMETOOLONG", key);
      if (target.userdata.size >= 16) throw new KernelError("ENOSPC", key);
      target.userdata.set(key, "");
      return;
    }
    if (op.op === "rmdir" && file === undefined) {
      if (!target.userdata.delete(key)) throw new KernelError("ENOENT", key);
      return;
    }
    if (op.op !== "write" || file !== "value" || !target.userdata.has(key)) throw new KernelError("ENOENT", op.path);
    if (op.value.length > 200) throw new KernelError("EMSGSIZE", key);
    if (op.value.length === 200) throw new KernelError("E2BIG", key);
    target.userdata.set(key, op.value);
  }

  private target(name: string): ModelTarget {
    const target = this.targetsByName.get(name);
    if (target === undefined) throw new KernelError("ENOENT", name);
    return target;
  }
}

function setEnabled(target: ModelTarget, value: string): void {
  const enable = value === "1";
  if (enable === target.enabled)
    throw new KernelError("EINVAL", `network logging has already ${enable ? "started" : "stopped"}`);
  if (enable && target.attributes.release === "1" && target.attributes.extended !== "1")
    throw new KernelError("EINVAL", "release feature requires extended log message");
  target.enabled = enable;
}
