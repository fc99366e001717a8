// Boots real Debian kernels in QEMU guests with a ramoops region (pstore in RAM), has each panic (sysrq) while its
// netconsole sends to the host, lets it reset (QEMU keeps guest RAM), and in the next boot has it print what
// pstore kept. Saves both, byte for byte, as fixtures under test/fixtures/real-kernels/pstore/: the same panic as
// netconsole carried it and as the kernel left it in pstore, for the unit tests to compare what each gives.
//
//   node hack/fetch-kernels.ts && bash hack/in-netns.sh node hack/capture-pstore-fixtures.ts [NAME-PART...]
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { KERNEL_6_1, KERNEL_6_12, type KernelSpec } from "../test/harness/kernels.ts";
import { captureDatagrams } from "../test/harness/datagram-capture.ts";
import { bootGuest, tierNetwork } from "../test/harness/guests.ts";
import { PSTORE_CONSOLE_MARK, PSTORE_RAM } from "../test/harness/vm.ts";

const out = fileURLToPath(new URL("../test/fixtures/real-kernels/pstore/", import.meta.url));
const net = tierNetwork();
const GUEST = { name: "vm1", ip: "10.203.0.2" };

/** The files the guest printed between PSTORE_CONSOLE_MARK begin NAME and end, decoded. */
export function pstoreFromConsole(console: string): { name: string; base64: string }[] {
  const files: { name: string; base64: string }[] = [];
  let current: { name: string; lines: string[] } | undefined;
  for (const raw of console.split("\n")) {
    const line = raw.replace(/\r$/, "");
    if (line.startsWith(`${PSTORE_CONSOLE_MARK} begin `)) {
      current = { name: line.slice(`${PSTORE_CONSOLE_MARK} begin `.length), lines: [] };
    } else if (line === `${PSTORE_CONSOLE_MARK} end` && current !== undefined) {
      files.push({ name: current.name, base64: Buffer.from(current.lines.join(""), "base64").toString("base64") });
      current = undefined;
    } else if (current !== undefined) {
      current.lines.push(line.trim());
    }
  }
  return files;
}

async function capture(kernel: KernelSpec): Promise<string> {
  const heard = await captureDatagrams(net.hostIp, GUEST.ip);
  const { datagrams } = heard;
  const guest = bootGuest(net, {
    kernel,
    node: GUEST,
    scenario: "pstore",
    setup: { kind: "init", netconsole: { extended: true, release: true, node: GUEST.name } },
    receiverPort: heard.port,
  });
  // Two boots: the panic, then the read-back.
  await guest.finished(240_000);
  heard.close();
  const pstore = pstoreFromConsole(readFileSync(guest.consoleLog, "latin1"));
  if (!pstore.some((f) => f.name.startsWith("dmesg-")))
    throw new Error(`no dmesg record came back from pstore (${guest.diagnosis})`);
  const name = `${guest.kernel.release}-sysrq`;
  const fixture = {
    kernel: { package: kernel.package, version: kernel.version, release: guest.kernel.release },
    scenario: "sysrq",
    ramoops: PSTORE_RAM,
    netconsole: { extended: true, release: true, userdata: { node: GUEST.name } },
    source: GUEST.ip,
    note: "One QEMU guest, two boots: netconsole datagrams as the host received them (both boots; the panic is in the first), and the files of /sys/fs/pstore as the next boot read them (base64 of their exact bytes).",
    datagrams,
    pstore,
  };
  writeFileSync(join(out, `${name}.json`), `${JSON.stringify(fixture, null, 1)}\n`);
  return `${name}: ${datagrams.length} datagrams, pstore ${pstore.map((f) => f.name).join(", ")}`;
}

mkdirSync(out, { recursive: true });
const only = process.argv.slice(2);
for (const kernel of [KERNEL_6_1, KERNEL_6_12]) {
  if (only.every((o) => kernel.package.includes(o))) console.log(await capture(kernel));
}
