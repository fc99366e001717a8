// Writes the self-test line into the kernel log, at a level the console (and so netconsole) sends.
import { readFile, writeFile } from "node:fs/promises";

/** KERN_WARNING: noticeable in dmesg without being an error; used whenever the console sends it. */
const PREFERRED_LEVEL = 4;

/**
 * The level for the self-test line given /proc/sys/kernel/printk. Only messages with a level below the console
 * loglevel (its first field) reach consoles, netconsole among them. A console loglevel of 1 passes only
 * KERN_EMERG (level 0), which is what the line then gets.
 */
export function selfTestLevel(printk: string): number {
  const consoleLevel = Number(printk.trim().split(/\s+/)[0]);
  if (!Number.isInteger(consoleLevel) || consoleLevel < 1)
    throw new Error(`cannot read console loglevel from ${JSON.stringify(printk)}`);
  return Math.min(PREFERRED_LEVEL, consoleLevel - 1);
}

/**
 * One write(2) is one record in /dev/kmsg. `<N>` sets the level; the kernel adds facility LOG_USER to
 * userspace lines, so the receiver sees prio 8+N and never mistakes it for a kernel message.
 */
export async function writeKernelLog(kmsgPath: string, level: number, line: string): Promise<void> {
  await writeFile(kmsgPath, `<${level}>${line}\n`, { flag: "a" });
}

export async function readConsoleLevel(printkPath: string): Promise<number> {
  return selfTestLevel(await readFile(printkPath, "utf8"));
}
