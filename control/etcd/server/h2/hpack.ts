// HPACK (RFC 7541) for the client port's HTTP/2 server: a full decoder (static and dynamic tables, integers,
// Huffman-coded strings), since clients index and Huffman-code freely; and a minimal encoder that never adds
// to the peer's dynamic table (static-table indexes where a field matches, plain literals otherwise), which
// every decoder accepts and which keeps no state per connection.

export type HeaderList = Array<[string, string]>;

export class HpackError extends Error {
  constructor(message: string) {
    super(`hpack: ${message}`);
    this.name = 'HpackError';
  }
}

/** RFC 7541 Appendix A, index 1..61. */
const STATIC_TABLE: ReadonlyArray<readonly [string, string]> = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''],
  ['etag', ''], ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''],
  ['if-modified-since', ''], ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''],
  ['last-modified', ''], ['link', ''], ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''],
  ['proxy-authorization', ''], ['range', ''], ['referer', ''], ['refresh', ''], ['retry-after', ''],
  ['server', ''], ['set-cookie', ''], ['strict-transport-security', ''], ['transfer-encoding', ''],
  ['user-agent', ''], ['vary', ''], ['via', ''], ['www-authenticate', ''],
];

/**
 * Bit length of each symbol's Huffman code (RFC 7541 Appendix B), symbols 0..255 then EOS (256). The code is
 * canonical: codes of one length are consecutive in symbol order, and each length starts where the shorter
 * ones ended, shifted left. So the lengths are all the table needs.
 */
const HUFFMAN_LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];
const EOS = 256;

/** Decoding: for each code length, the first code and the symbols of that length in code order. */
const huffman = (() => {
  const byLength: number[][] = Array.from({ length: 31 }, () => []);
  HUFFMAN_LENGTHS.forEach((len, sym) => byLength[len].push(sym));
  const firstCode = new Array<number>(31).fill(0);
  let code = 0;
  for (let len = 1; len <= 30; len++) {
    code = (code + byLength[len - 1].length) * 2;
    firstCode[len] = code;
  }
  return { byLength, firstCode };
})();

export function huffmanDecode(bytes: Uint8Array): string {
  const { byLength, firstCode } = huffman;
  const out: number[] = [];
  let code = 0, len = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    for (let bit = 7; bit >= 0; bit--) {
      code = code * 2 + ((byte >> bit) & 1);
      len++;
      const offset = code - firstCode[len];
      if (offset >= 0 && offset < byLength[len].length) {
        const sym = byLength[len][offset];
        if (sym === EOS) throw new HpackError('Huffman string contains EOS');
        out.push(sym);
        code = 0;
        len = 0;
      } else if (len >= 30) {
        throw new HpackError('invalid Huffman code');
      }
    }
  }
  // padding: fewer than 8 bits, all ones (the start of EOS)
  if (len > 7 || code !== 2 ** len - 1) throw new HpackError('invalid Huffman padding');
  return Buffer.from(out).toString('latin1');
}

/** Reads an HPACK integer with an n-bit prefix at buf[pos]; returns [value, next position]. */
function readInt(buf: Uint8Array, pos: number, prefixBits: number): [number, number] {
  const max = (1 << prefixBits) - 1;
  let value = buf[pos++] & max;
  if (value < max) return [value, pos];
  let shift = 0;
  for (;;) {
    if (pos >= buf.length) throw new HpackError('truncated integer');
    const b = buf[pos++];
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if ((b & 0x80) === 0) return [value, pos];
    if (shift > 28) throw new HpackError('integer too large');
  }
}

function readString(buf: Uint8Array, pos: number): [string, number] {
  if (pos >= buf.length) throw new HpackError('truncated string');
  const huff = (buf[pos] & 0x80) !== 0;
  const [length, start] = readInt(buf, pos, 7);
  const end = start + length;
  if (end > buf.length) throw new HpackError('truncated string');
  const raw = buf.subarray(start, end);
  return [huff ? huffmanDecode(raw) : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('latin1'), end];
}

/** Entry overhead counted in a dynamic table's size (RFC 7541 4.1). */
const ENTRY_OVERHEAD = 32;

export class HpackDecoder {
  /** Newest first. */
  private readonly dynamic: Array<[string, string]> = [];
  private size = 0;
  private maxSize: number;
  private readonly limit: number;

  /** limit: the SETTINGS_HEADER_TABLE_SIZE we advertised (4096 unless told otherwise). */
  constructor(limit = 4096) {
    this.limit = limit;
    this.maxSize = limit;
  }

  decode(block: Uint8Array, maxListBytes = Infinity): HeaderList {
    const out: HeaderList = [];
    let listBytes = 0;
    let pos = 0;
    while (pos < block.length) {
      const b = block[pos];
      let name: string, value: string;
      if (b & 0x80) { // indexed field
        let index: number;
        [index, pos] = readInt(block, pos, 7);
        [name, value] = this.entry(index);
      } else if ((b & 0xe0) === 0x20) { // dynamic table size update
        let size: number;
        [size, pos] = readInt(block, pos, 5);
        if (size > this.limit) throw new HpackError(`table size update ${size} exceeds ${this.limit}`);
        this.maxSize = size;
        this.evict(0);
        continue;
      } else {
        const incremental = (b & 0xc0) === 0x40;
        let index: number;
        [index, pos] = readInt(block, pos, incremental ? 6 : 4);
        if (index === 0) [name, pos] = readString(block, pos);
        else name = this.entry(index)[0];
        [value, pos] = readString(block, pos);
        if (incremental) this.add(name, value);
      }
      listBytes += name.length + value.length + ENTRY_OVERHEAD;
      if (listBytes > maxListBytes) throw new HpackError(`header list larger than ${maxListBytes} bytes`);
      out.push([name, value]);
    }
    return out;
  }

  private entry(index: number): readonly [string, string] {
    if (index === 0) throw new HpackError('index 0');
    if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1];
    const e = this.dynamic[index - STATIC_TABLE.length - 1];
    if (!e) throw new HpackError(`index ${index} is past the dynamic table`);
    return e;
  }

  private add(name: string, value: string): void {
    const entrySize = name.length + value.length + ENTRY_OVERHEAD;
    this.evict(entrySize);
    if (entrySize > this.maxSize) return; // too big: the table is just emptied (RFC 7541 4.4)
    this.dynamic.unshift([name, value]);
    this.size += entrySize;
  }

  /** Evict oldest entries until `room` more bytes fit. */
  private evict(room: number): void {
    while (this.dynamic.length > 0 && this.size + room > this.maxSize) {
      const [n, v] = this.dynamic.pop()!;
      this.size -= n.length + v.length + ENTRY_OVERHEAD;
    }
  }
}

const STATIC_EXACT = new Map<string, number>();
const STATIC_NAME = new Map<string, number>();
STATIC_TABLE.forEach(([n, v], i) => {
  STATIC_EXACT.set(`${n}\0${v}`, i + 1);
  if (!STATIC_NAME.has(n)) STATIC_NAME.set(n, i + 1);
});

function pushInt(out: number[], value: number, prefixBits: number, firstByteFlags: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) { out.push(firstByteFlags | value); return; }
  out.push(firstByteFlags | max);
  value -= max;
  while (value >= 0x80) { out.push((value % 0x80) | 0x80); value = Math.floor(value / 0x80); }
  out.push(value);
}

function pushString(out: number[], s: string): void {
  pushInt(out, s.length, 7, 0);
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i) & 0xff);
}

/** A header block for these fields (names lower case, values latin1), with no dynamic table use. */
export function encodeHeaders(fields: Record<string, string | number>): Buffer {
  const out: number[] = [];
  for (const name in fields) {
    const value = String(fields[name]);
    const exact = STATIC_EXACT.get(`${name}\0${value}`);
    if (exact !== undefined) { pushInt(out, exact, 7, 0x80); continue; }
    const nameIndex = STATIC_NAME.get(name);
    if (nameIndex !== undefined) pushInt(out, nameIndex, 4, 0x00);
    else { out.push(0x00); pushString(out, name); }
    pushString(out, value);
  }
  return Buffer.from(out);
}
