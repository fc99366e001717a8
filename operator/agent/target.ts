// A netconsole target as configfs shows it, and the writes that turn what is there into what should be there.
// Pure: no file system. The kernel's rules (drivers/net/netconsole.c) decide the order:
//   - every attribute but `enabled` and userdata is refused (EINVAL) while the target is enabled, so a change
//     first writes enabled=0, then the attributes, then enabled=1;
//   - writing `enabled` with the value it already has is refused too, so it is only written when it changes;
//   - `release` needs `extended` at enable time; extended is written first;
//   - userdata entries are directories (userdata/<key>/value) and may change while enabled.

/** The attributes lastgasp sets, in the order they are written. */
export const ATTRIBUTES = [
  "dev_name",
  "local_port",
  "remote_port",
  "local_ip",
  "remote_ip",
  "remote_mac",
  "extended",
  "release",
] as const;

export type Attribute = (typeof ATTRIBUTES)[number];

export interface DesiredTarget {
  /** The configfs directory name, e.g. `lastgasp`. */
  readonly name: string;
  /** An attribute left out is not written (the kernel lacks it). */
  readonly attributes: Readonly<Partial<Record<Attribute, string>>>;
  readonly userdata: Readonly<Record<string, string>>;
}

/**
 * The longest userdata value netconsole keeps, in bytes: its buffer has 200 bytes including the terminating NUL, so
 * a 200-byte value is refused (E2BIG), as real 6.12 kernels showed.
 */
export const USERDATA_VALUE_MAX = 199;

/** What the running kernel's netconsole offers beyond the basics: `release` since 6.5, userdata since 6.9. */
export interface TargetFeatures {
  readonly release: boolean;
  readonly userdata: boolean;
}

/** The desired target without what the kernel does not offer. */
export function withinFeatures(desired: DesiredTarget, features: TargetFeatures): DesiredTarget {
  const { release, ...others } = desired.attributes;
  return {
    name: desired.name,
    attributes: features.release && release !== undefined ? { ...others, release } : others,
    userdata: features.userdata ? desired.userdata : {},
  };
}

export interface ObservedTarget {
  readonly exists: boolean;
  readonly enabled: boolean;
  /** Attribute values as read (trailing newline removed); missing when the file could not be read. */
  readonly attributes: Readonly<Partial<Record<Attribute, string>>>;
  readonly userdata: Readonly<Record<string, string>>;
}

export type ConfigfsOp =
  | { readonly op: "mkdir"; readonly path: string }
  | { readonly op: "write"; readonly path: string; readonly value: string }
  | { readonly op: "rmdir"; readonly path: string };

export const ABSENT: ObservedTarget = { exists: false, enabled: false, attributes: {}, userdata: {} };

/** The configfs operations, in order, that make `observed` into `desired` and leave it enabled; [] when equal. */
export function planTarget(observed: ObservedTarget, desired: DesiredTarget): ConfigfsOp[] {
  const dir = desired.name;
  const changed = ATTRIBUTES.filter(
    (a) => desired.attributes[a] !== undefined && !sameValue(a, observed.attributes[a], desired.attributes[a]),
  );
  const ops: ConfigfsOp[] = [];
  if (!observed.exists) ops.push({ op: "mkdir", path: dir });
  const mustDisable = observed.enabled && changed.length > 0;
  if (mustDisable) ops.push({ op: "write", path: `${dir}/enabled`, value: "0" });
  for (const attribute of changed)
    ops.push({ op: "write", path: `${dir}/${attribute}`, value: desired.attributes[attribute]! });
  ops.push(...planUserdata(dir, observed.userdata, desired.userdata));
  if (!observed.enabled || mustDisable) ops.push({ op: "write", path: `${dir}/enabled`, value: "1" });
  return ops;
}

/** Disables the target, removes its userdata entries, then the target itself (configfs removes the files). */
export function planRemoval(name: string, observed: ObservedTarget): ConfigfsOp[] {
  if (!observed.exists) return [];
  const ops: ConfigfsOp[] = [];
  if (observed.enabled) ops.push({ op: "write", path: `${name}/enabled`, value: "0" });
  for (const key of Object.keys(observed.userdata)) ops.push({ op: "rmdir", path: `${name}/userdata/${key}` });
  ops.push({ op: "rmdir", path: name });
  return ops;
}

function planUserdata(
  dir: string,
  observed: Readonly<Record<string, string>>,
  desired: Readonly<Record<string, string>>,
): ConfigfsOp[] {
  const ops: ConfigfsOp[] = [];
  for (const key of Object.keys(observed))
    if (!(key in desired)) ops.push({ op: "rmdir", path: `${dir}/userdata/${key}` });
  for (const [key, value] of Object.entries(desired)) {
    if (!(key in observed)) ops.push({ op: "mkdir", path: `${dir}/userdata/${key}` });
    if (observed[key] !== value) ops.push({ op: "write", path: `${dir}/userdata/${key}/value`, value });
  }
  return ops;
}

/** The kernel prints addresses in its own format (compressed IPv6, lower-case MAC); compare like for like. */
function sameValue(attribute: Attribute, observed: string | undefined, desired: string): boolean {
  if (observed === undefined) return false;
  if (attribute === "local_ip" || attribute === "remote_ip") return canonicalIp(observed) === canonicalIp(desired);
  return observed.toLowerCase() === desired.toLowerCase();
}

export function canonicalIp(ip: string): string {
  if (!ip.includes(":")) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip.toLowerCase();
  }
}
