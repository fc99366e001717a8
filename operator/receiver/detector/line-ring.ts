// A source's recent lines as UTF-8 bytes in one buffer, not as strings. A receive thread keeps the last lines of
// every source it hears (a panic's oops and call trace come before its panic line); held as strings, thousands
// of sources' lines are old-generation objects replaced at the rate datagrams arrive, and the garbage collector
// pauses the thread for them. Here a line is copied in once, and decoded again only when a panic asks for it.
// The buffer starts with room for a busy node's ordinary lines and grows as long lines need it, up to what
// `maxLines` lines of `maxLineBytes` need. It grows at once to what `maxLines` lines like the one that did not fit
// would take (in 4 KiB steps), not by doubling: each buffer it leaves behind is garbage until the next GC, and a
// flood of long lines from thousands of sources made that garbage tens of MiB (S5).
const INITIAL_BYTES = 2048;
const GROWTH_STEP_BYTES = 4096;

/** Encoded lines are written here first, then copied into the ring (one per thread: a thread runs one line at a time). */
let scratch = Buffer.allocUnsafe(4096);

export class LineRing {
  private readonly maxLines: number;
  private readonly maxBytes: number;
  private buffer: Buffer;
  /** Each held line's start in `buffer` and its length, oldest first, from index `first`, circular. */
  private readonly starts: Int32Array;
  private readonly lengths: Int32Array;
  private first = 0;
  private count = 0;
  /** Where the next line's bytes go, and how many bytes the held lines take. */
  private head = 0;
  private used = 0;

  constructor(maxLines: number, maxLineBytes: number) {
    this.maxLines = maxLines;
    this.maxBytes = Math.max(INITIAL_BYTES, maxLines * maxLineBytes);
    this.buffer = Buffer.allocUnsafe(Math.min(INITIAL_BYTES, this.maxBytes));
    this.starts = new Int32Array(maxLines);
    this.lengths = new Int32Array(maxLines);
  }

  get length(): number {
    return this.count;
  }

  /** Bytes this ring holds on to (its buffer), for the receiver's byte budget. */
  get capacityBytes(): number {
    return this.buffer.length;
  }

  push(line: string): void {
    if (this.maxLines === 0) return;
    if (line.length * 3 > scratch.length) scratch = Buffer.allocUnsafe(line.length * 3);
    const size = Math.min(scratch.write(line, 0, "utf8"), this.maxBytes);
    if (this.count === this.maxLines) this.dropOldest();
    while (this.used + size > this.buffer.length && this.buffer.length < this.maxBytes) this.grow(size);
    while (this.used + size > this.buffer.length && this.count > 0) this.dropOldest();
    const at = this.head;
    const firstPart = Math.min(size, this.buffer.length - at);
    scratch.copy(this.buffer, at, 0, firstPart);
    if (firstPart < size) scratch.copy(this.buffer, 0, firstPart, size);
    const slot = (this.first + this.count) % this.maxLines;
    this.starts[slot] = at;
    this.lengths[slot] = size;
    this.count++;
    this.used += size;
    this.head = (at + size) % this.buffer.length;
  }

  /** The last `n` lines (all when fewer are held), oldest first, decoded. */
  last(n: number): string[] {
    const take = Math.max(0, Math.min(n, this.count));
    const lines: string[] = [];
    for (let i = this.count - take; i < this.count; i++) lines.push(this.line(i));
    return lines;
  }

  private line(index: number): string {
    const slot = (this.first + index) % this.maxLines;
    const start = this.starts[slot]!;
    const size = this.lengths[slot]!;
    const end = start + size;
    if (end <= this.buffer.length) return this.buffer.toString("utf8", start, end);
    const wrapped = end - this.buffer.length;
    return Buffer.concat([this.buffer.subarray(start), this.buffer.subarray(0, wrapped)]).toString("utf8");
  }

  private dropOldest(): void {
    this.used -= this.lengths[this.first]!;
    this.first = (this.first + 1) % this.maxLines;
    this.count--;
    if (this.count === 0) this.head = this.used = 0;
  }

  /** Room for `maxLines` lines of `lineBytes` (at least half again what it had), the held lines laid out anew. */
  private grow(lineBytes: number): void {
    const wanted = Math.max(this.maxLines * lineBytes, Math.ceil(this.buffer.length * 1.5));
    const rounded = Math.ceil(wanted / GROWTH_STEP_BYTES) * GROWTH_STEP_BYTES;
    const bigger = Buffer.allocUnsafe(Math.min(this.maxBytes, rounded));
    let at = 0;
    for (let i = 0; i < this.count; i++) {
      const slot = (this.first + i) % this.maxLines;
      const start = this.starts[slot]!;
      const size = this.lengths[slot]!;
      const firstPart = Math.min(size, this.buffer.length - start);
      this.buffer.copy(bigger, at, start, start + firstPart);
      if (firstPart < size) this.buffer.copy(bigger, at + firstPart, 0, size - firstPart);
      this.starts[slot] = at;
      at += size;
    }
    this.buffer = bigger;
    this.head = at % bigger.length;
  }
}
