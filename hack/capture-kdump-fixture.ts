// Captures what kdump leaves of a real kernel's panic, as Debian's kdump-tools writes it: a Debian kernel in QEMU
// panics (sysrq) while its netconsole sends to the host and then stays down (panic=0); its memory is dumped
// through QEMU's QMP as an ELF core carrying the VMCOREINFO the kernel handed QEMU's vmcoreinfo device (what a
// capture kernel's /proc/vmcore carries), and `makedumpfile --dump-dmesg` writes the crashed kernel's log from it:
// the command kdump-tools runs for /var/crash/<time>/dmesg.<time>. Saves the datagrams and that file, byte for
// byte, under test/fixtures/real-kernels/kdump/, for the unit tests to compare what each gives.
//
//   apt-get install makedumpfile   # Debian's, the one kdump-tools uses
//   node hack/fetch-kernels.ts && bash hack/in-netns.sh node hack/capture-kdump-fixture.ts [NAME-PART...]
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { captureDatagrams } from "../test/harness/datagram-capture.ts";
import { bootGuest, tierNetwork } from "../test/harness/guests.ts";
import { KERNEL_6_1, KERNEL_6_12, type KernelSpec } from "../test/harness/kernels.ts";
import { waitFor } from "../test/harness/wait.ts";

const out = fileURLToPath(new URL("../test/fixtures/real-kernels/kdump/", import.meta.url));
const net = tierNetwork();
const GUEST = { name: "vm1", ip: "10.203.0.3" };

/** Sends QMP commands in order (after the capabilities handshake); resolves with each one's answer. */
async function qmp(path: string, commands: readonly object[]): Promise<unknown[]> {
  const socket = connect(path);
  const answers: unknown[] = [];
  let buffered = "";
  const next = () =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const take = () => {
        for (;;) {
          const newline = buffered.indexOf("\n");
          if (newline === -1) return false;
          const message = JSON.parse(buffered.slice(0, newline)) as Record<string, unknown>;
          buffered = buffered.slice(newline + 1);
          if (!("event" in message)) {
            resolve(message);
            return true;
          }
        }
      };
      if (take()) return;
      const onData = (chunk: Buffer) => {
        buffered += chunk.toString("utf8");
        if (take()) socket.off("data", onData);
      };
      socket.on("data", onData);
      socket.once("error", reject);
    });
  await next(); // the greeting
  for (const command of [{ execute: "qmp_capabilities" }, ...commands]) {
    socket.write(`${JSON.stringify(command)}\n`);
    const answer = await next();
    if ("error" in answer) throw new Error(`QMP ${JSON.stringify(command)}: ${JSON.stringify(answer.error)}`);
    answers.push(answer.return);
  }
  socket.end();
  return answers;
}

/**
 * Debian's makedumpfile (1.7.2) reads an ELF core's program headers right after its ELF header, as the kernel's
 * /proc/vmcore lays them out; QEMU puts its section headers there and the program headers after. This moves the
 * program headers to offset 64 and drops the section headers (which only name the string table): the headers
 * are laid out as /proc/vmcore's, every segment and note stays where it was, the memory is untouched.
 */
function programHeadersFirst(path: string): void {
  chmodSync(path, 0o600);
  const fd = openSync(path, "r+");
  try {
    const header = Buffer.alloc(4096);
    readSync(fd, header, 0, header.length, 0);
    const phoff = Number(header.readBigUInt64LE(0x20));
    const phnum = header.readUInt16LE(0x38);
    const phdrs = Buffer.from(header.subarray(phoff, phoff + 56 * phnum));
    phdrs.copy(header, 64);
    header.writeBigUInt64LE(64n, 0x20); // e_phoff
    header.writeBigUInt64LE(0n, 0x28); // e_shoff
    header.writeUInt16LE(64, 0x34); // e_ehsize
    header.writeUInt16LE(0, 0x3a); // e_shentsize
    header.writeUInt16LE(0, 0x3c); // e_shnum
    header.writeUInt16LE(0, 0x3e); // e_shstrndx
    writeSync(fd, header, 0, 64 + 56 * phnum, 0);
  } finally {
    closeSync(fd);
  }
}

async function capture(kernel: KernelSpec): Promise<string> {
  const work = mkdtempSync(join(tmpdir(), "lastgasp-kdump-"));
  const heard = await captureDatagrams(net.hostIp, GUEST.ip);
  const { datagrams } = heard;
  const qmpSocket = join(work, "qmp.sock");
  const guest = bootGuest(net, {
    kernel,
    node: GUEST,
    scenario: "sysrq",
    setup: { kind: "init", netconsole: { extended: true, release: true, node: GUEST.name } },
    receiverPort: heard.port,
    panicSeconds: 0,
    modules: ["qemu_fw_cfg"],
    qmpSocket,
  });
  try {
    await waitFor(() => readFileSync(guest.consoleLog, "latin1").includes("---[ end Kernel panic - not syncing"), {
      what: `the guest's panic (${guest.diagnosis})`,
      timeoutMs: 180_000,
      intervalMs: 500,
    });
    const vmcore = join(work, "vmcore");
    await qmp(qmpSocket, [{ execute: "dump-guest-memory", arguments: { paging: false, protocol: `file:${vmcore}` } }]);
    // kdump-tools names the file after the time of the capture: dmesg.YYYYMMDDhhmm.
    const stamp = new Date().toISOString().replace(/[-:T]/g, "").slice(0, 12);
    const file = join(work, `dmesg.${stamp}`);
    programHeadersFirst(vmcore);
    execFileSync("makedumpfile", ["--dump-dmesg", vmcore, file], { stdio: "inherit" });
    const name = `${guest.kernel.release}-sysrq`;
    const fixture = {
      kernel: { package: kernel.package, version: kernel.version, release: guest.kernel.release },
      scenario: "sysrq",
      netconsole: { extended: true, release: true, userdata: { node: GUEST.name } },
      source: GUEST.ip,
      kdump: {
        tool: execFileSync("makedumpfile", ["-v"], { encoding: "utf8" }).split("\n")[0]!.trim(),
        command: "makedumpfile --dump-dmesg vmcore dmesg.<time>",
        vmcore:
          "QEMU dump-guest-memory (ELF, paging off, vmcoreinfo device), program headers moved first for makedumpfile",
        file: `dmesg.${stamp}`,
        base64: readFileSync(file).toString("base64"),
      },
      note: "One QEMU guest: netconsole datagrams as the host received them, and the dmesg makedumpfile wrote from the guest's memory dumped after its panic (QEMU's ELF core with VMCOREINFO, as /proc/vmcore in a capture kernel).",
      datagrams,
    };
    writeFileSync(join(out, `${name}.json`), `${JSON.stringify(fixture, null, 1)}\n`);
    return `${name}: ${datagrams.length} datagrams, ${fixture.kdump.file} ${readFileSync(file).length} bytes`;
  } finally {
    heard.close();
    await guest.vm.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

mkdirSync(out, { recursive: true });
const only = process.argv.slice(2);
for (const kernel of [KERNEL_6_1, KERNEL_6_12]) {
  if (only.every((o) => kernel.package.includes(o))) console.log(await capture(kernel));
}
