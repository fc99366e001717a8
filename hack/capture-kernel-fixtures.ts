// Boots real Debian kernels in QEMU guests, has each panic in a few real ways, and saves the netconsole datagrams
// the host received (bytes, source address, arrival offsets) as fixtures under test/fixtures/real-kernels/. The
// unit tests replay them byte for byte, so the fast tier runs on what real kernels send, not only on our
// encoder's output. The guests sit on the real-kernel tier's tap, so each datagram's source is the guest's own
// address, as a receiver would see it.
//
//   node hack/fetch-kernels.ts && bash hack/in-netns.sh node hack/capture-kernel-fixtures.ts [NAME-PART...]
//   (all: ~2 minutes on 2 cores without KVM; `hung` or `6.12` select by name part)
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureCrashModule } from "../test/harness/crash-module.ts";
import { KERNEL_6_1, KERNEL_6_12, type KernelSpec } from "../test/harness/kernels.ts";
import { captureDatagrams } from "../test/harness/datagram-capture.ts";
import { bootGuest, tierNetwork } from "../test/harness/guests.ts";

const out = fileURLToPath(new URL("../test/fixtures/real-kernels/", import.meta.url));
const net = tierNetwork();
const GUEST = { name: "vm1", ip: "10.203.0.2" };

interface Capture {
  readonly kernel: KernelSpec;
  readonly scenario: "sysrq" | "oom" | "kill-init" | "hung" | "oops";
  readonly extended: boolean;
}

const captures: Capture[] = [
  ...(["sysrq", "oom", "kill-init", "hung"] as const).flatMap((scenario) => [
    { kernel: KERNEL_6_1, scenario, extended: true },
    { kernel: KERNEL_6_12, scenario, extended: true },
  ]),
  { kernel: KERNEL_6_1, scenario: "sysrq", extended: false },
  { kernel: KERNEL_6_12, scenario: "oom", extended: false },
  // Only 6.1: Debian no longer has the headers of the pinned 6.12 build, which the crash module needs.
  { kernel: KERNEL_6_1, scenario: "oops", extended: true },
];

async function capture(c: Capture): Promise<string> {
  const heard = await captureDatagrams(net.hostIp);
  const { datagrams, sources } = heard;
  const guest = bootGuest(net, {
    kernel: c.kernel,
    node: GUEST,
    scenario: c.scenario,
    setup: { kind: "init", netconsole: { extended: c.extended, release: c.extended, node: GUEST.name } },
    receiverPort: heard.port,
    files: c.scenario === "oops" ? { "lastgasp_oops.ko": readFileSync(ensureCrashModule(c.kernel)) } : {},
  });
  await guest.finished();
  await new Promise((resolve) => setTimeout(resolve, 300)); // the last datagrams in flight
  heard.close();
  if (sources.size !== 1 || !sources.has(GUEST.ip))
    throw new Error(`datagrams from ${[...sources].join(", ") || "nobody"} (${guest.diagnosis})`);
  const name = `${guest.kernel.release}-${c.scenario}-${c.extended ? "extended" : "plain"}`;
  const fixture = {
    kernel: { package: c.kernel.package, version: c.kernel.version, release: guest.kernel.release },
    scenario: c.scenario,
    netconsole: { extended: c.extended, release: c.extended, userdata: { node: GUEST.name } },
    source: GUEST.ip,
    note: "Received by the host from a QEMU guest on a tap device: payloads exactly as sent, from the guest's own address, arrival offsets from the first.",
    datagrams,
  };
  writeFileSync(join(out, `${name}.json`), `${JSON.stringify(fixture, null, 1)}\n`);
  return `${name}: ${datagrams.length} datagrams`;
}

mkdirSync(out, { recursive: true });
// Arguments select captures by name part, e.g. `hung` or `6.12`.
const only = process.argv.slice(2);
for (const c of captures) {
  const name = `${c.kernel.package} ${c.scenario} ${c.extended ? "extended" : "plain"}`;
  if (only.every((o) => name.includes(o))) console.log(await capture(c));
}
