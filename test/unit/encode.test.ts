// `lastgasp send` must produce what the kernel produces: the examples of the netconsole wire format, byte for byte.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeExtended, encodePlain } from "../../operator/netconsole/encode.ts";

const text = (buffers: Buffer[]) => buffers.map((b) => b.toString("latin1"));

describe("netconsole encoding", () => {
  it("plain: the console line as printed", () => {
    assert.deepEqual(text(encodePlain(["[ 3742.283995] Kernel panic - not syncing: Fatal exception in interrupt"])), [
      "[ 3742.283995] Kernel panic - not syncing: Fatal exception in interrupt\n",
    ]);
  });

  it("plain: a line over 1000 bytes in raw slices", () => {
    const datagrams = encodePlain(["y".repeat(2500)]);
    assert.deepEqual(
      datagrams.map((d) => d.length),
      [1000, 1000, 501],
    );
  });

  it("extended: header, escaped text, release and userdata", () => {
    const line = "[ 3742.283995] Kernel panic - not syncing: Fatal exception in interrupt";
    assert.deepEqual(text(encodeExtended([line], { extended: true, firstSequence: 5123 })), [
      "0,5123,3742283995,-;Kernel panic - not syncing: Fatal exception in interrupt\n",
    ]);
    assert.deepEqual(text(encodeExtended([line], { extended: true, firstSequence: 5123, release: "6.9.7" })), [
      "6.9.7,0,5123,3742283995,-;Kernel panic - not syncing: Fatal exception in interrupt\n",
    ]);
    assert.deepEqual(
      text(
        encodeExtended([line], {
          extended: true,
          firstSequence: 5123,
          userdata: { node: "ip-10-0-1-23", cluster: "prod" },
        }),
      ),
      [
        "0,5123,3742283995,-;Kernel panic - not syncing: Fatal exception in interrupt\n node=ip-10-0-1-23\n cluster=prod\n",
      ],
    );
    assert.deepEqual(text(encodeExtended(["[ 1.000000][ T12] tab\there \\ back"], { extended: true })), [
      "4,1,1000000,-,caller=T12;tab\\x09here \\x5c back\n",
    ]);
  });

  it("extended: fragments with ncfrag when over 1000 bytes, each repeating the header", () => {
    const datagrams = text(
      encodeExtended([`<4>[ 1.234567] ${"A".repeat(1500)}`], { extended: true, firstSequence: 777 }),
    );
    assert.equal(datagrams.length, 2);
    assert.ok(datagrams.every((d) => Buffer.byteLength(d, "latin1") <= 1000));
    assert.match(datagrams[0]!, /^4,777,1234567,-,ncfrag=0\/1501;A+$/);
    const offset = datagrams[0]!.length - "4,777,1234567,-,ncfrag=0/1501;".length;
    assert.ok(datagrams[1]!.startsWith(`4,777,1234567,-,ncfrag=${offset}/1501;`));
    assert.ok(datagrams[1]!.endsWith("A\n"));
  });
});
