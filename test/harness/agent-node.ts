// A stand-in for the host files the node agent touches, in a directory: configfs (with its netconsole/
// directory), the kernel log (/dev/kmsg), the printk sysctl and the boot id; and for its last words, pstore,
// systemd-pstore's archive, kdump's crash directory and sysfs (a ramoops backend with 128 KiB records, no kdump
// kernel). `flags` points `lastgasp agent` at them, with module loading and lastWords off (never the host's own
// pstore, nor whatever cluster ~/.kube/config names): a test turns lastWords on with its own kubeconfig.
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
  const sys = join(dir, "sys");
  await mkdir(join(sys, "module/pstore/parameters"), { recursive: true });
  await mkdir(join(sys, "module/ramoops/parameters"), { recursive: true });
  await mkdir(join(sys, "kernel"), { recursive: true });
  await writeFile(join(sys, "module/pstore/parameters/backend"), "ramoops\n");
  await writeFile(join(sys, "module/ramoops/parameters/record_size"), "131072\n");
  await writeFile(join(sys, "kernel/kexec_crash_loaded"), "0\n");
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
    "--last-words",
    "false",
    "--sys-root",
    sys,
    "--pstore-dir",
    join(dir, "pstore"),
    "--pstore-archive-dir",
    join(dir, "pstore-archive"),
    "--kdump-dir",
    join(dir, "crash"),
    "--reported-file",
    join(dir, "reported-panics.json"),
  ];
  return { configfsRoot, kmsgPath, flags };
}
