// The netconsole directory in configfs (/sys/kernel/config/netconsole): reads targets and applies planned
// operations. The root is a setting, so tests (and a dry look at a copy) can point it at an ordinary directory.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, readdir, rm, rmdir, statfs, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  ABSENT,
  ATTRIBUTES,
  type Attribute,
  type ConfigfsOp,
  type ObservedTarget,
  type TargetFeatures,
} from "./target.ts";

const run = promisify(execFile);

/** f_type of configfs (include/uapi/linux/magic.h). */
const CONFIGFS_MAGIC = 0x62656570;

export class NetconsoleConfigfs {
  /** The netconsole directory itself, `<configfs root>/netconsole`. */
  readonly dir: string;
  private readonly configfsRoot: string;
  /**
   * True when the directory is an ordinary one standing in for configfs (tests, a dry look at a copy), as found
   * by `ensureAvailable`: there a new target gets the `userdata` directory configfs would have created with it,
   * and a removed one its files removed, as configfs would have done.
   */
  private standIn = false;

  constructor(configfsRoot: string) {
    this.configfsRoot = configfsRoot;
    this.dir = join(configfsRoot, "netconsole");
  }

  /**
   * Makes sure the netconsole directory exists: loads the module when it is missing and `loadModule` allows.
   * Throws with what the node lacks otherwise.
   */
  async ensureAvailable(loadModule: boolean): Promise<void> {
    if (!existsSync(this.dir)) await this.loadModule(loadModule);
    this.standIn = (await statfs(this.dir)).type !== CONFIGFS_MAGIC;
  }

  private async loadModule(allowed: boolean): Promise<void> {
    if (!existsSync(this.configfsRoot))
      throw new Error(
        `${this.configfsRoot} does not exist: configfs is not mounted on this node (mount -t configfs none /sys/kernel/config)`,
      );
    if (!allowed) throw new Error(`${this.dir} does not exist and loading the netconsole module is disabled`);
    try {
      await run("modprobe", ["netconsole"], { timeout: 30_000 });
    } catch (err) {
      throw new Error(`modprobe netconsole failed: ${(err as Error).message.trim()}`, { cause: err });
    }
    if (!existsSync(this.dir))
      throw new Error(`netconsole is loaded but ${this.dir} is missing: the kernel lacks CONFIG_NETCONSOLE_DYNAMIC`);
  }

  /** Names of the targets present. */
  async targets(): Promise<string[]> {
    const entries = await readdir(this.dir, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => e.name);
  }

  async read(name: string): Promise<ObservedTarget> {
    const dir = join(this.dir, name);
    if (!existsSync(dir)) return ABSENT;
    const attributes: Partial<Record<Attribute, string>> = {};
    for (const attribute of ATTRIBUTES) {
      const value = await readAttribute(join(dir, attribute));
      if (value !== undefined) attributes[attribute] = value;
    }
    return {
      exists: true,
      enabled: (await readAttribute(join(dir, "enabled"))) === "1",
      attributes,
      userdata: await this.readUserdata(join(dir, "userdata")),
    };
  }

  /** What this kernel's targets offer, read off an existing target's directory (a stand-in offers everything). */
  features(name: string): Promise<TargetFeatures> {
    const dir = join(this.dir, name);
    if (this.standIn) return Promise.resolve({ release: true, userdata: true });
    return Promise.resolve({ release: existsSync(join(dir, "release")), userdata: existsSync(join(dir, "userdata")) });
  }

  /** Applies operations in order; the first refused one stops the rest and is reported with its path. */
  async apply(ops: readonly ConfigfsOp[]): Promise<void> {
    for (const op of ops) {
      const path = join(this.dir, op.path);
      try {
        await this.applyOne(op, path);
      } catch (err) {
        const what = op.op === "write" ? `writing ${JSON.stringify(op.value)} to ${path}` : `${op.op} ${path}`;
        throw new Error(`${what} failed: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
          cause: err,
        });
      }
    }
  }

  private async applyOne(op: ConfigfsOp, path: string): Promise<void> {
    switch (op.op) {
      case "mkdir":
        await mkdir(path);
        if (this.standIn && !op.path.includes("/")) await mkdir(join(path, "userdata"));
        return;
      case "write":
        // One write(2) per attribute, as configfs expects (a store callback sees the whole value at once).
        await writeFile(path, op.value);
        return;
      case "rmdir":
        await (this.standIn ? rm(path, { recursive: true }) : rmdir(path));
        return;
    }
  }

  private async readUserdata(dir: string): Promise<Record<string, string>> {
    if (!existsSync(dir)) return {};
    const userdata: Record<string, string> = {};
    for (const entry of await readdir(dir, { withFileTypes: true }))
      if (entry.isDirectory()) userdata[entry.name] = (await readAttribute(join(dir, entry.name, "value"))) ?? "";
    return userdata;
  }
}

async function readAttribute(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, "utf8")).replace(/\n$/, "");
  } catch {
    return undefined;
  }
}
