// Downloads and extracts the kernels the real-kernel tier boots (outside its network namespace, which has no
// way out). Cached: a second run does nothing.
import { ensureKernel, KERNEL_6_1, KERNEL_6_12 } from "../test/harness/kernels.ts";

for (const spec of [KERNEL_6_1, KERNEL_6_12]) console.error(`kernel ${ensureKernel(spec).release} ready`);
