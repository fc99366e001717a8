// A stand-in for the host files the node agent touches, in a directory: configfs (with its netconsole/
// directory), the kernel log (/dev/kmsg), the printk sysctl and the boot id. `flags` points `lastgasp agent` at
// them, with module loading off.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface StandInNode {
  readonly configfsRoot: string;
  readonly kmsgPath: string;
  readonly flags: string[];
}

export async function standInNode(dir: string, bootId: string): Promise<StandInNode> {
  const configfsRoot = join(dir, "configfs");
  const kmsgPath = join(dir, "kmsg");
  await mkdir(join(configfsRoot, "netconsole"), { recursive: true });
  await writeFile(join(dir, "printk"), "7 4 1 7\n");
  await writeFile(join(dir, "boot_id"), `${bootId}\n`);
  const flags = [
    "--configfs-root",
    configfsRoot,
    "--kmsg-path",
    kmsgPath,
    "--printk-path",
    join(dir, "printk"),
    "--boot-id-path",
    join(dir, "boot_id"),
    "--load-module",
    "false",
  ];
  return { configfsRoot, kmsgPath, flags };
}
