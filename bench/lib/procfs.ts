// Readings from /proc: a process's memory, and the kernel's drop counter of a UDP socket.
import { readFileSync } from "node:fs";

export interface Memory {
  /** Resident set size now. */
  readonly rssMiB: number;
  /** The highest resident set size so far (VmHWM). */
  readonly peakRssMiB: number;
}

export function memoryOf(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
    if (match === null) throw new Error(`no ${field} in /proc/${pid}/status`);
    return Number(match[1]);
  };
  return { rssMiB: Math.round(kib("VmRSS") / 102.4) / 10, peakRssMiB: Math.round(kib("VmHWM") / 102.4) / 10 };
}

/**
 * Datagrams the kernel dropped for the UDP sockets bound to `port` (receive buffer full), from the `drops`
 * column of /proc/net/udp and udp6. Sockets are matched by local port in hex, as the kernel prints it.
 */
export function udpSocketDrops(port: number, tables: readonly string[] = ["/proc/net/udp", "/proc/net/udp6"]): number {
  let drops = 0;
  for (const table of tables) drops += udpDropsInTable(readFileSync(table, "utf8"), port);
  return drops;
}

export function udpDropsInTable(text: string, port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  let drops = 0;
  for (const line of text.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 13 || fields[1]?.split(":")[1] !== hexPort) continue;
    drops += Number(fields.at(-1));
  }
  return drops;
}
