// Downloads and extracts the kernels the real-kernel tier boots, and builds its crash module (outside its network
// namespace, which has no way out). Cached: a second run does nothing.
import { ensureCrashModule } from "../test/harness/crash-module.ts";
import { ensureKernel, KERNEL_6_1, KERNEL_6_12 } from "../test/harness/kernels.ts";

for (const spec of [KERNEL_6_1, KERNEL_6_12]) console.error(`kernel ${ensureKernel(spec).release} ready`);
// Its headers come from apt too; built here, where the network is (the tier's namespace has none).
console.error(`oops module ${ensureCrashModule(KERNEL_6_1)} ready`);
