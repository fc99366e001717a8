// The batched-receive addon (operator/receiver/thread/native/batch_recv.c) against what an attacker on the node
// network can send it: datagrams of any length (empty, exactly a slot, past a slot, the UDP maximum) and any
// bytes, from IPv4 and IPv6, received into slabs of any size. Each comes out whole, or cut to a slot and marked
// so, with its own source address and port, in order; bad arguments are errors, not crashes; opening, failing to
// open and closing leave no descriptor behind. `make test-native` runs this file again against an
// AddressSanitizer build (LASTGASP_BATCH_ADDON), so a read or write past a buffer fails the run.
import assert from "node:assert/strict";
import { createSocket, type Socket } from "node:dgram";
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

interface Addon {
  open(host: string, port: number, ipv6: boolean, receiveBufferBytes: number, reusePort: boolean): number[];
  receive(fds: Int32Array, timeoutMs: number, slab: Uint8Array, meta: Float64Array, addresses: Uint8Array): number;
  socketFill(fd: number): number[];
  close(fd: number): void;
  readonly constants: { slotBytes: number; metaFields: number; maxBatch: number; addressBytes: number };
}

const path = process.env.LASTGASP_BATCH_ADDON ?? fileURLToPath(new URL("../../build/batch_recv.node", import.meta.url));
const addon = createRequire(import.meta.url)(path) as Addon;
const { slotBytes, metaFields, addressBytes } = addon.constants;

/** A deterministic generator (the run can be repeated from its seed). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const openDescriptors = () => readdirSync("/proc/self/fd").length;

interface Sent {
  readonly from: string;
  readonly port: number;
  readonly data: Buffer;
}

async function bound(type: "udp4" | "udp6", address: string): Promise<Socket> {
  const socket = createSocket(type);
  await new Promise<void>((resolve) => socket.bind(0, address, resolve));
  return socket;
}

async function send(socket: Socket, data: Buffer, port: number, to: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    socket.send(data, port, to, (err) => {
      if (err) reject(err);
      else resolve();
    });
  });
}

/** Receives until `expected` datagrams came or a receive waited 2 s for nothing; every slab size from 1 to 64. */
function receiveAll(
  fds: Int32Array,
  expected: number,
  next: () => number,
): { meta: number[]; data: Buffer; address: string }[] {
  const out: { meta: number[]; data: Buffer; address: string }[] = [];
  while (out.length < expected) {
    const slots = 1 + Math.floor(next() * 64);
    const slab = new Uint8Array(slots * slotBytes + Math.floor(next() * slotBytes)); // a part-slot is not used
    const meta = new Float64Array(slots * metaFields);
    const addresses = new Uint8Array(slots * addressBytes);
    const count = addon.receive(fds, 2000, slab, meta, addresses);
    if (count === 0) break;
    assert.ok(count <= slots, `${count} datagrams into ${slots} slots`);
    for (let i = 0; i < count; i++) {
      const m = Array.from(meta.subarray(i * metaFields, (i + 1) * metaFields));
      const address = Buffer.from(addresses.buffer, i * addressBytes, m[2]).toString("latin1");
      out.push({ meta: m, data: Buffer.from(slab.buffer, i * slotBytes, m[0]), address });
    }
  }
  return out;
}

describe("batched-receive addon", () => {
  let v4: number[];
  let v6: number[] | undefined;
  before(() => {
    v4 = addon.open("127.0.0.1", 0, false, 8 << 20, true);
    try {
      v6 = addon.open("::1", 0, true, 8 << 20, true);
    } catch {
      v6 = undefined; // no IPv6 on this machine: the IPv4 half still runs
    }
  });
  after(() => {
    addon.close(v4[0]!);
    if (v6) addon.close(v6[0]!);
  });

  it("gives every datagram back whole or cut to a slot, with its source, in order, whatever its length and bytes", async () => {
    const next = random(Number(process.env.LASTGASP_FUZZ_SEED ?? 32));
    const lengths = [0, 1, slotBytes - 1, slotBytes, slotBytes + 1, 65_507];
    const senders = [await bound("udp4", "127.0.0.1"), await bound("udp4", "127.0.0.7")];
    const senders6 = v6 ? [await bound("udp6", "::1")] : [];
    try {
      for (let round = 0; round < 8; round++) {
        const sent: Sent[] = [];
        for (let k = 0; k < 150; k++) {
          const length =
            next() < 0.3 ? lengths[Math.floor(next() * lengths.length)]! : Math.floor(next() * 3 * slotBytes);
          const data = Buffer.from(Array.from({ length }, () => Math.floor(next() * 256)));
          const six = senders6.length > 0 && next() < 0.3;
          const socket = six ? senders6[0]! : senders[Math.floor(next() * senders.length)]!;
          await send(socket, data, six ? v6![1]! : v4[1]!, six ? "::1" : "127.0.0.1");
          sent.push({ from: socket.address().address, port: socket.address().port, data });
        }
        const fds = Int32Array.from(v6 ? [v4[0]!, v6[0]!] : [v4[0]!]);
        const got = receiveAll(fds, sent.length, next);
        assert.equal(got.length, sent.length, `round ${round}: every datagram received`);
        // Each socket keeps its own order; compare per family.
        for (const family of [4, 6]) {
          const mine = sent.filter((s) => (s.from.includes(":") ? 6 : 4) === family);
          const theirs = got.filter((g) => g.meta[3] === family);
          assert.equal(theirs.length, mine.length);
          for (const [i, s] of mine.entries()) {
            const g = theirs[i]!;
            assert.equal(g.address, s.from);
            assert.equal(g.meta[4], s.port);
            assert.equal(g.meta[1], s.data.length > slotBytes ? 1 : 0, "cut is marked");
            assert.ok(g.data.equals(s.data.subarray(0, slotBytes)), `round ${round}, datagram ${i}: its bytes`);
            assert.ok(Math.abs(g.meta[5]! - Date.now()) < 60_000, "a receive time from the kernel");
          }
        }
      }
    } finally {
      for (const s of [...senders, ...senders6]) s.close();
    }
  });

  it("refuses bad arguments with errors, never a crash", () => {
    const fds = Int32Array.of(v4[0]!);
    const slab = new Uint8Array(slotBytes);
    const meta = new Float64Array(metaFields);
    const addresses = new Uint8Array(addressBytes);
    const bad: [string, () => unknown][] = [
      ["too few arguments", () => (addon.receive as (...a: unknown[]) => number)(fds, 0)],
      [
        "fds not an Int32Array",
        () => addon.receive(new Uint32Array(1) as unknown as Int32Array, 0, slab, meta, addresses),
      ],
      ["no fds", () => addon.receive(new Int32Array(0), 0, slab, meta, addresses)],
      ["too many fds", () => addon.receive(new Int32Array(9), 0, slab, meta, addresses)],
      ["slab not bytes", () => addon.receive(fds, 0, meta as unknown as Uint8Array, meta, addresses)],
      ["meta not Float64Array", () => addon.receive(fds, 0, slab, slab as unknown as Float64Array, addresses)],
      ["a closed descriptor", () => addon.receive(Int32Array.of(1_000_000), 0, slab, meta, addresses)],
      ["a host that is no address", () => addon.open("localhost", 0, false, 0, false)],
      ["IPv4 text as IPv6", () => addon.open("127.0.0.1", 0, true, 0, false)],
      ["a port past 65535", () => addon.open("127.0.0.1", 70_000, false, 0, false)],
      ["a host too long", () => addon.open("1".repeat(200), 0, false, 0, false)],
      ["socketFill of no descriptor", () => addon.socketFill("3" as unknown as number)],
      [
        "close of nothing",
        () => {
          (addon.close as (...a: unknown[]) => void)();
        },
      ],
    ];
    for (const [what, call] of bad) assert.throws(call, Error, what);
    // Too small to hold a slot: nothing is received into it, and nothing is lost.
    assert.equal(addon.receive(fds, 0, new Uint8Array(slotBytes - 1), meta, addresses), 0);
  });

  it("leaves no descriptor behind: opened and closed, failed to bind, refused", () => {
    const before = openDescriptors();
    for (let i = 0; i < 500; i++) {
      const [fd] = addon.open("127.0.0.1", 0, false, 1 << 16, true);
      addon.socketFill(fd!);
      addon.close(fd!);
      // The port is taken without SO_REUSEPORT on either side: bind fails after the socket was made.
      assert.throws(() => addon.open("127.0.0.1", v4[1]!, false, 0, false), { code: "EADDRINUSE" });
      assert.throws(() => addon.open("192.0.2.1", 0, false, 0, false), { code: "EADDRNOTAVAIL" });
    }
    assert.equal(openDescriptors(), before);
  });
});
