// Extended netconsole escapes bytes < 0x20, >= 0x7f and the backslash itself as \xNN, so that the first real
// newline ends the text. Decoding restores the original bytes and reads them as UTF-8 (invalid sequences
// become U+FFFD rather than failing: a mangled character must not lose a panic line).

const decoder = new TextDecoder("utf-8", { fatal: false });

export function decodeEscapes(raw: Uint8Array): string {
  if (!raw.includes(0x5c)) return decoder.decode(raw);
  const out = new Uint8Array(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const byte = raw[i]!;
    if (byte === 0x5c && raw[i + 1] === 0x78 && isHex(raw[i + 2]) && isHex(raw[i + 3])) {
      out[n++] = (hexValue(raw[i + 2]!) << 4) | hexValue(raw[i + 3]!);
      i += 3;
    } else {
      out[n++] = byte;
    }
  }
  return decoder.decode(out.subarray(0, n));
}

function isHex(byte: number | undefined): boolean {
  return (
    byte !== undefined &&
    ((byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66) || (byte >= 0x41 && byte <= 0x46))
  );
}

function hexValue(byte: number): number {
  if (byte <= 0x39) return byte - 0x30;
  return (byte | 0x20) - 0x61 + 10;
}
