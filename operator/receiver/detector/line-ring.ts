// A source's recent lines as UTF-8 bytes in one buffer, not as strings. A receive thread keeps the last lines of
// every source it hears (a panic's oops and call trace come before its panic line); held as strings, thousands
// of sources' lines are old-generation objects replaced at the rate datagrams arrive, and the garbage collector
// pauses the thread for them. Here a line is copied in once, and decoded again only when a panic asks for it.
// The buffer starts with room for a busy node's ordinary lines and grows, in size classes, as long lines need it,
// up to what `maxLines` lines of `maxLineBytes` need. Buffers live outside V8's heap, so its heap limit does not
// bound them and the GC frees them late: a flood of long lines from thousands of sources, retired and replaced by
// the byte budget, left hundreds of MiB of them to collect (S5). So a buffer a ring outgrows, or a retired
// source's (`release`), goes to a small per-thread free list of its size class, which new and growing rings take
// from first, or is freed at once.
const INITIAL_BYTES = 2048;
/** Size classes: each four times the last, from INITIAL_BYTES; the last is a ring's own maximum. */
const CLASS_FACTOR = 4;
/** Free buffers kept per size class (at most ~4 MiB in all with the default 20 lines). */
const FREE_PER_CLASS = 32;
const free = new Map<number, Buffer[]>();

function take(bytes: number): Buffer {
  return free.get(bytes)?.pop() ?? Buffer.allocUnsafe(bytes);
}

/**
 * Keeps the buffer for another ring, or, the free list full, frees a buffer of its own at once by detaching it
 * (the small ones are slices of Node's shared pool: those are left to the GC).
 */
function give(buffer: Buffer): void {
  const list = free.get(buffer.length) ?? [];
  free.set(buffer.length, list);
  if (list.length < FREE_PER_CLASS) list.push(buffer);
  else if (buffer.byteOffset === 0 && buffer.buffer.byteLength === buffer.length)
    (buffer.buffer as ArrayBuffer).transfer(0);
}

/** The smallest size class of at least `bytes`, but never more than `max`. */
function sizeClass(bytes: number, max: number): number {
  let size = INITIAL_BYTES;
  while (size < bytes && size < max) size *= CLASS_FACTOR;
  return Math.min(size, max);
}

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
    this.buffer = take(sizeClass(INITIAL_BYTES, this.maxBytes));
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
    while (this.used + size > this.buffer.length && this.buffer.length < this.maxBytes) this.grow();
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

  /** Gives the buffer back for another ring to use; this ring holds nothing afterwards (a retired source's). */
  release(): void {
    if (this.buffer.length > 0) give(this.buffer);
    this.buffer = Buffer.alloc(0);
    this.first = this.count = this.head = this.used = 0;
  }

  /** The next size class up, the held lines laid out anew; the old buffer to the free list. */
  private grow(): void {
    const bigger = take(sizeClass(this.buffer.length + 1, this.maxBytes));
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
    give(this.buffer);
    this.buffer = bigger;
    this.head = at % bigger.length;
  }
}
