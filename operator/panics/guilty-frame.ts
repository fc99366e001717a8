// Which frame of a crash report names the bug. One bug must get one frame wherever it crashes — on another node,
// build, CPU or moment — so the frame is not simply the top of the stack: it is chosen by the kind of crash.
// The rules are written down in docs/signatures.md; syzkaller's report parser (pkg/report/linux.go, Apache-2.0)
// is the public reference they were learned from, on the crash logs syzbot files by bug.
//
// - Most crashes (oops, BUG, WARNING, KASAN…): the first frame that is not reporting machinery or a generic
//   helper (a lock, an allocator, a string or copy routine, coverage instrumentation): the crash site when it is
//   the bug's own code, otherwise the caller that handed the helper its bad input. A WARNING raised by a checking
//   facility (refcounts, debug objects, lockdep, usercopy, URBs: CHECKERS) also skips the facility's own functions.
// - Stalls (soft and hard lockups, RCU stalls, a hit stack guard page, a corrupted stack end): the CPU is caught anywhere inside a loop
//   that spans several functions, so the top frame changes from one report to the next. The bug is the work
//   the loop was called for: the frame just above the first dispatcher (syscall entry, workqueue, softirq,
//   timer, kthread, file or socket operation). A cross-CPU call (smp_call_function*) is its own identity: the
//   CPU is waiting for the others.
// - Hung tasks: the task sleeps in whatever it waits on; the frame is the first one outside the waiting, locking,
//   scheduling and RCU machinery. Hangs on the RTNL lock are one bucket (rtnl_lock), and hangs waiting for an RCU
//   grace period are another (synchronize_rcu, whatever flavour): each is one stuck owner with many victims.

export type FrameRule = "site" | "stall" | "hung";

export interface GuiltyFrameInput {
  readonly rule: FrameRule;
  /** The function the report's header names (`WARNING: … at file:line func+0x…`), if any. */
  readonly headerFunction?: string;
  readonly crashSite?: string;
  readonly frames: readonly string[];
  /** Frames this report's checker adds to the machinery (a refcount WARNING's refcount_* helpers…). */
  readonly alsoSkip?: RegExp;
}

/** The frame that names the bug, and the meaningful frames below it (for display). */
export function guiltyFrames(input: GuiltyFrameInput): string[] {
  const skip = (f: string) => MACHINERY.test(f) || (input.alsoSkip?.test(f) ?? false);
  const site = [input.headerFunction, input.crashSite].filter((f) => f !== undefined);
  const meaningful = (frames: readonly string[]) => unique(frames.filter((f) => !skip(f)));
  const all = meaningful([...site, ...input.frames]);
  if (input.rule === "stall") {
    const work = stallFrame([...site, ...firstStack(input.frames)], skip);
    if (work !== undefined) return unique([work, ...all]);
  }
  if (input.rule === "hung") {
    const waiting = hungFrame(firstStack(input.frames), skip);
    if (waiting !== undefined) return unique([waiting, ...meaningful(input.frames)]);
  }
  return all;
}

/** A pattern matching a whole function name that is any of `alternatives` (each a regular expression). */
function wholeName(alternatives: readonly string[]): RegExp {
  return new RegExp(`^(?:${alternatives.join("|")})$`);
}

function unique(frames: readonly string[]): string[] {
  return [...new Set(frames)];
}

/** A task's stack ends where it entered the kernel: what follows is another CPU's or task's backtrace. */
export const STACK_BOTTOM =
  /^(?:ret_from_fork\w*|entry_SYSCALL\w*|entry_INT80\w*|el0t_\w+_sync|el0_svc|ret_fast_syscall)$/;

function firstStack(frames: readonly string[]): readonly string[] {
  const bottom = frames.findIndex((f) => STACK_BOTTOM.test(f));
  return bottom < 0 ? frames : frames.slice(0, bottom + 1);
}

function stallFrame(frames: readonly string[], skip: (f: string) => boolean): string | undefined {
  let above: string | undefined;
  for (const frame of frames) {
    if (frame.startsWith("smp_call_function")) return "smp_call_function";
    if (DISPATCHERS.test(frame)) return above;
    if (!skip(frame)) above = frame;
  }
  return undefined;
}

function hungFrame(frames: readonly string[], skip: (f: string) => boolean): string | undefined {
  for (const frame of frames) {
    if (frame.includes("rtnl_lock")) return "rtnl_lock";
    if (/synchronize_(?:rcu|srcu|sched|net)/.test(frame)) return "synchronize_rcu";
  }
  return frames.find((f) => !WAITING.test(f) && !skip(f));
}

/** Where work is handed to the function that did it: a stall's loop is the frame just above one of these. */
const DISPATCHERS = wholeName([
  // Kernel entry: system calls, page faults, interrupts returning to user space.
  "do_syscall_\\w+",
  "x64_sys_call",
  "__x64_sys_\\w+",
  "__ia32_sys_\\w+",
  "__arm64_sys_\\w+",
  "invoke_syscall",
  "do_fast_syscall_\\w+",
  "do_user_addr_fault",
  "handle_page_fault",
  "exc_page_fault",
  "do_page_fault",
  "__do_fault",
  "exit_to_user_mode\\w*",
  "task_work_run",
  // Deferred work: workqueues, softirqs, timers, tasklets, kernel threads.
  "process_one_work\\w*",
  "worker_thread",
  "kthread",
  "smpboot_thread_fn",
  "run_ksoftirqd",
  "handle_softirqs",
  "__do_softirq",
  "do_softirq\\w*",
  "call_timer_fn",
  "__run_timers?\\w*",
  "run_timer_softirq",
  "__hrtimer_run_queues",
  "tasklet_action\\w*",
  "net_rx_action",
  "__netif_receive_skb\\w*",
  "netif_receive_skb\\w*",
  "cpu_startup_entry",
  "start_secondary",
  // File and socket operations: the frame above names the device, filesystem or protocol.
  "vfs_(?:read|write|ioctl|iter_read|iter_write|readv|writev|open)",
  "__vfs_(?:read|write)",
  "new_sync_(?:read|write)",
  "do_iter_(?:read|write|readv_writev)",
  "__se_sys_ioctl",
  "__do_sys_ioctl",
  "ksys_ioctl",
  "do_vfs_ioctl",
  "blkdev_ioctl",
  "do_dentry_open",
  "mmap_region",
  "do_mmap",
  "__fput",
  "sock_(?:sendmsg|recvmsg|do_ioctl|ioctl|release|mmap)",
  "__sock_(?:sendmsg|release)",
  "____sys_(?:sendmsg|recvmsg)",
  "__sys_(?:sendmsg|recvmsg|connect|setsockopt|getsockopt|bind|listen|accept4?|sendto|recvfrom)",
  "netlink_rcv_skb",
  "rtnetlink_rcv_msg",
  "nfnetlink_rcv_msg",
]);

/** A hung task's stack is mostly how it waits: none of these is why. */
const WAITING =
  /sched|_lock|_slowlock|down|rwsem|completion|kthread|wait|synchronize|context_switch|__switch_to|cancel_\w*work|flush_\w*work|rcu_barrier|\bmsleep|io_schedule|freezer/;

/**
 * Functions every crash passes through or that only carry the bad input further (reporting, the panic itself,
 * exception and syscall entry, workqueues, sanitizers, locks, allocators, copies): they say how the kernel got
 * to the report, not where the bug is.
 */
export const MACHINERY = wholeName([
  // Reporting and the panic itself.
  "dump_stack\\w*",
  "show_stack\\w*",
  "show_regs\\w*",
  "show_trace\\w*",
  "dump_backtrace\\w*",
  "sched_show_task",
  "print_\\w+",
  "printk\\w*",
  "_printk",
  "vprintk\\w*",
  "panic",
  "vpanic",
  "nmi_panic",
  "check_panic_on_warn",
  "__warn\\w*",
  "warn_\\w+",
  "report_bug",
  "handle_bug",
  "do_error_trap",
  "do_trap",
  "die\\w*",
  "__die\\w*",
  "oops_\\w+",
  "notify_die",
  "exc_\\w+",
  "asm_\\w+",
  "do_invalid_op",
  "invalid_op",
  "fixup_bug",
  "__stack_chk_fail",
  "nmi_cpu_backtrace\\w*",
  "nmi_trigger_cpumask_backtrace",
  "arch_trigger_cpumask_backtrace",
  "trigger_\\w*backtrace\\w*",
  // Sanitizers and coverage instrumentation.
  "\\w*kasan_\\w+",
  "__asan_\\w+",
  "\\w*kmsan_\\w+",
  "__msan_\\w+",
  "\\w*ubsan_\\w+",
  "kfence_\\w+",
  "kcsan_\\w+",
  "__tsan_\\w+",
  "__sanitizer_\\w+",
  "check_memory_region\\w*",
  "check_(?:heap_)?object\\w*",
  "__check_object_size",
  "__check_heap_object",
  // Lock debugging and the locks themselves.
  "lockdep_\\w+",
  "__lock_acquire",
  "lock_acquire\\w*",
  "lock_release",
  "\\w*lock_class\\w*",
  "mark_lock\\w*",
  "\\w*held_locks",
  "check_\\w+_usage",
  "debug_\\w+",
  "__might_\\w+",
  "___might_\\w+",
  "might_fault",
  "\\w*raw_spin_\\w+",
  "\\w*spin_(?:lock|unlock|trylock)\\w*",
  "\\w*queued_\\w*spin_lock\\w*",
  "_raw_(?:read|write)_\\w+",
  "(?:read|write)_(?:lock|unlock|trylock)\\w*",
  "__mutex_\\w+",
  "mutex_\\w+",
  "rt_mutex_\\w+",
  "osq_\\w+",
  "rwsem_down\\w*",
  "down",
  "down_\\w+",
  "up_(?:read|write)",
  "percpu_rwsem_\\w+",
  "__percpu_down_\\w+",
  "percpu_down_\\w+",
  "arch_local_irq_\\w+",
  "local_bh_(?:enable|disable)\\w*",
  "__local_bh_\\w+",
  // Entry, dispatch, interrupts and timers.
  "entry_SYSCALL\\w*",
  "do_syscall_\\w+",
  "x64_sys_call",
  "ret_from_fork\\w*",
  "kthread",
  "worker_thread",
  "process_one_work\\w*",
  "el0_\\w+",
  "el1_\\w+",
  "\\w*sysvec_\\w+",
  "irq_exit\\w*",
  "__irq_exit\\w*",
  "handle_softirqs",
  "__do_softirq",
  "do_softirq\\w*",
  "rcu_\\w+",
  "watchdog_\\w+",
  "hrtimer_\\w+",
  "__hrtimer_\\w+",
  "tick_\\w+",
  "update_process_times",
  "__sysrq_handle_key",
  "sysrq_handle_\\w+_wrapper",
  "__schedule",
  "schedule\\w*",
  "io_schedule\\w*",
  "wait_for_completion\\w*",
  "__x86_indirect_thunk_\\w+",
  "system_call_fastpath",
  // Allocators: the caller asked for the memory.
  "__alloc_pages\\w*",
  "alloc_pages\\w*",
  "__folio_alloc\\w*",
  "folio_alloc\\w*",
  "slab_\\w+",
  "___slab_alloc",
  "__slab_\\w+",
  "kmem_cache_\\w+",
  "__kmem_cache_\\w+",
  "_{0,2}k?v?[mzc]alloc\\w*",
  "krealloc\\w*",
  // Reference counts, bit operations and atomics: the caller holds the object.
  "refcount_\\w+",
  "__refcount_\\w+",
  "kref_\\w+",
  "atomic\\w*_(?:dec|inc|read|set|or|xor|and|add|sub|fetch|xchg|cmpxchg|try)\\w*",
  "(?:set|clear|change|test)_bit\\w*",
  // Copy, fill and string helpers: where a fault landed, not who asked.
  "\\w*clear_user\\w*",
  "rep_stos\\w*",
  "rep_movs\\w*",
  "\\w*copy_\\w*user\\w*",
  "copy_(?:to|from)_iter\\w*",
  "_copy_(?:to|from)_iter\\w*",
  "copy_page_(?:to|from)_iter\\w*",
  "mem(?:set|cpy|move|cmp|chr|dup)\\w*",
  "__mem(?:set|cpy|move)\\w*",
  "str(?:n?cmp|n?cpy|l?cpy|scpy|n?len|n?str|r?chr|n?dup|cat)",
  "__list_(?:add|del)\\w*",
  "list_(?:add|del)\\w*",
  // Checks inside generic helpers: the caller passed the bad object (an skb too short, a folio not locked,
  // a work item not initialised).
  "skb_(?:over_|under_)?panic",
  "skb_(?:put|push)",
  "folio_unlock",
  "unlock_page",
  "_{0,2}flush_work",
  "_{0,2}cancel_work\\w*",
]);

/** The checkers whose WARNINGs blame their caller, by the file the WARNING names, and their own functions. */
export const CHECKERS: readonly { readonly file: RegExp; readonly kind: string; readonly own: RegExp }[] = [
  {
    // Debug objects: a timer, work item or other object freed or reinitialised while still active.
    file: /\blib\/debugobjects\.c/,
    kind: "WARNING: ODEBUG bug",
    own: /^(?:debug_\w+|__debug_\w+|\w*timer_\w+|hrtimer_\w+|\w*work_\w+|percpu_\w+|vunmap\w*|k?v?free\w*|__free_\w+|free_\w+|kobject_\w+)$/,
  },
  { file: /\blib\/refcount\.c/, kind: "WARNING: refcount bug", own: /^(?:\w*refcount\w*|kobject_\w+)$/ },
  { file: /\blib\/kobject\.c/, kind: "WARNING: kobject bug", own: /^kobject_\w+$/ },
  { file: /\bkernel\/locking\/lockdep\.c/, kind: "WARNING: locking bug", own: /^(?:lock_sock\w*|release_sock)$/ },
  { file: /\bmm\/usercopy\.c/, kind: "WARNING: bad usercopy", own: /^(?:\w*usercopy\w*|__check\w*)$/ },
  // A URB submitted with a bad pipe or buffer: the driver that submitted it.
  { file: /\bdrivers\/usb\/core\/urb\.c/, kind: "WARNING: bad urb", own: /^usb_submit_urb$/ },
];
