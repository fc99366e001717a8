// What the netconsole parser produces: one kernel log record (one console line), with whatever the wire format
// told about it. Plain mode only has the text and the console prefixes; extended mode has the printk header.

export interface KernelRecord {
  /** The message text, without console prefixes or the extended header; escapes decoded. */
  readonly text: string;
  /** True when the record came in extended format (its prio is then reliable). */
  readonly extended: boolean;
  /** syslog priority: facility * 8 + level. Kernel messages have facility 0 (prio 0..7). */
  readonly prio?: number;
  /** printk sequence number (extended mode). */
  readonly seq?: number;
  /** Microseconds since boot (extended header, or the plain console timestamp). */
  readonly tsUsec?: number;
  /** Caller id such as T123 (task) or C0 (CPU), when the kernel has CONFIG_PRINTK_CALLER. */
  readonly caller?: string;
  /** Kernel release (extended mode with `release` on, or the sysdata `release=` field). */
  readonly release?: string;
  /** netconsole userdata key=value pairs (extended mode). */
  readonly userdata?: Readonly<Record<string, string>>;
  /** True when the line was cut at the length limit. */
  readonly truncated?: boolean;
}
