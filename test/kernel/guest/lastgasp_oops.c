// SPDX-License-Identifier: GPL-2.0
/*
 * A kernel oops on demand, for lastgasp's real-kernel tests (Debian's kernels have no LKDTM): loading this
 * module writes through a NULL pointer in kernel mode. With kernel.panic_on_oops=1 the oops becomes a panic,
 * "Kernel panic - not syncing: Fatal exception", after a report headed "BUG: kernel NULL pointer dereference".
 * Built against Debian's kernel headers by test/harness/crash-module.ts.
 */
#include <linux/module.h>

static int __init lastgasp_oops_init(void)
{
	pr_info("lastgasp_oops: writing through a NULL pointer\n");
	*(volatile int *)NULL = 0;
	return 0;
}
module_init(lastgasp_oops_init);

MODULE_DESCRIPTION("Oops on load (lastgasp's real-kernel tests)");
MODULE_LICENSE("GPL");
