// etcdctl 3.4 dials its per-endpoint calls (endpoint status, hashkv, defrag, move-leader) with the endpoint
// *including its scheme* as the HTTP/2 :authority ("http://127.0.0.1:2379"). nghttp2, inside node:http2, checks
// :authority against the RFC 3986 authority characters ('/' is not one) and resets the stream with PROTOCOL_ERROR
// before grpc-js sees it; node exposes no option to turn that check off. So, on new connections only, the first
// HEADERS frames are read here before the socket goes to grpc-js, and such an :authority is rewritten in place.
//
// Go clients send their first request only after the server's SETTINGS arrive, so this module sends an empty
// SETTINGS frame itself and later drops the client's ACK for it (nghttp2 would count a second ACK as an error).
// The rewritten value keeps its length and its HPACK representation, so both dynamic tables stay the same.

const PREFACE_LEN = 24;
const SETTINGS = 0x4, HEADERS = 0x1;
const FLAG_ACK = 0x1, FLAG_END_HEADERS = 0x4, FLAG_PADDED = 0x8, FLAG_PRIORITY = 0x20;
/** Our own server preface: an empty SETTINGS frame (the defaults). */
export const EMPTY_SETTINGS = Buffer.from([0, 0, 0, SETTINGS, 0, 0, 0, 0, 0]);

// HPACK Huffman code lengths of symbols 0..256 (RFC 7541 Appendix B), 'a' = 5 bits; the code is canonical.
const LENGTHS = 'isxxxxxxxtzxxzxxxxxxxxzxxxxxxxxxbffhibdgffdgdbbbaaabbbbbbbcdkbhfibccccccccccccccccccccccdcdioijbkabababbbaccbbbabcbaabccccckgjixprpprrrsrssssststtrstssssqrsrsstrqprrssqsrrtqrssqqrqsrssprrrsrrsvvporsruvvvwwvtuoqvwwvwtqqvvxwwwptpqrqqsrruuttvsvwvvwwwwwxwwwwwvz';

interface Node { zero?: Node; one?: Node; sym?: number }
let huffmanRoot: Node | undefined;
function huffmanTree(): Node {
  if (huffmanRoot) return huffmanRoot;
  const lengths = [...LENGTHS].map((c) => c.charCodeAt(0) - 97 + 5);
  const order = lengths.map((_, s) => s).sort((a, b) => lengths[a] - lengths[b] || a - b);
  const root: Node = {};
  let code = 0, prev = lengths[order[0]];
  order.forEach((sym, i) => {
    if (i > 0) code = (code + 1) * 2 ** (lengths[sym] - prev);
    prev = lengths[sym];
    let n = root;
    for (let b = lengths[sym] - 1; b >= 0; b--) {
      const bit = Math.floor(code / 2 ** b) % 2;
      n = bit ? (n.one ??= {}) : (n.zero ??= {});
    }
    n.sym = sym;
  });
  return (huffmanRoot = root);
}

/** Decode a Huffman-coded HPACK string; undefined if it is malformed (then nothing is rewritten). */
export function huffmanDecode(buf: Buffer): string | undefined {
  const root = huffmanTree();
  let n = root, out = '', pending = 0;
  for (const byte of buf) {
    for (let b = 7; b >= 0; b--) {
      const next = (byte >> b) & 1 ? n.one : n.zero;
      if (!next) return undefined;
      pending++;
      if (next.sym !== undefined) {
        if (next.sym === 256) return undefined; // EOS inside a string is an error
        out += String.fromCharCode(next.sym);
        n = root; pending = 0;
      } else n = next;
    }
  }
  return pending > 7 ? undefined : out; // padding: at most 7 bits (of the EOS prefix)
}

/** HPACK integer with an N-bit prefix at buf[pos]; returns value and the position after it. */
function readInt(buf: Buffer, pos: number, prefixBits: number): { value: number; end: number } | undefined {
  if (pos >= buf.length) return undefined;
  const max = (1 << prefixBits) - 1;
  let value = buf[pos] & max;
  pos++;
  if (value < max) return { value, end: pos };
  for (let shift = 0; shift < 28; shift += 7) {
    if (pos >= buf.length) return undefined;
    const b = buf[pos++];
    value += (b & 0x7f) * 2 ** shift;
    if (!(b & 0x80)) return { value, end: pos };
  }
  return undefined;
}

function writeInt(value: number, prefixBits: number, firstByteFlags: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([firstByteFlags | value]);
  const out = [firstByteFlags | max];
  value -= max;
  while (value >= 128) { out.push((value % 128) | 0x80); value = Math.floor(value / 128); }
  out.push(value);
  return Buffer.from(out);
}

interface StringAt { start: number; end: number; value: string | undefined }
function readString(buf: Buffer, pos: number): StringAt | undefined {
  if (pos >= buf.length) return undefined;
  const huffman = (buf[pos] & 0x80) !== 0;
  const len = readInt(buf, pos, 7);
  if (!len || len.end + len.value > buf.length) return undefined;
  const raw = buf.subarray(len.end, len.end + len.value);
  return { start: pos, end: len.end + len.value, value: huffman ? huffmanDecode(raw) : raw.toString('latin1') };
}

/** The same-length authority nghttp2 accepts: "http://h:p" becomes "http:__h:p". */
export function saneAuthority(value: string): string | undefined {
  return /^https?:\/\//.test(value) ? value.replace(/\//g, '_') : undefined;
}

/**
 * Rewrite an ":authority" that carries a scheme in one HPACK header block. Returns the new block, or
 * undefined when there is nothing to change (or the block is not understood: it is then passed on as is).
 */
export function rewriteHeaderBlock(block: Buffer): Buffer | undefined {
  let pos = 0;
  while (pos < block.length) {
    const first = block[pos];
    if (first & 0x80) { // indexed field
      const i = readInt(block, pos, 7); if (!i) return undefined; pos = i.end; continue;
    }
    if ((first & 0xe0) === 0x20) { // dynamic table size update
      const i = readInt(block, pos, 5); if (!i) return undefined; pos = i.end; continue;
    }
    const prefix = (first & 0xc0) === 0x40 ? 6 : 4; // with incremental indexing : without / never indexed
    const nameIndex = readInt(block, pos, prefix); if (!nameIndex) return undefined;
    let isAuthority = nameIndex.value === 1;
    let at = nameIndex.end;
    if (nameIndex.value === 0) {
      const name = readString(block, at); if (!name) return undefined;
      isAuthority = name.value === ':authority';
      at = name.end;
    }
    const value = readString(block, at); if (!value) return undefined;
    const fixed = isAuthority && value.value !== undefined ? saneAuthority(value.value) : undefined;
    if (fixed !== undefined) {
      const literal = Buffer.concat([writeInt(fixed.length, 7, 0), Buffer.from(fixed, 'latin1')]);
      return Buffer.concat([block.subarray(0, value.start), literal, block.subarray(value.end)]);
    }
    pos = value.end;
  }
  return undefined;
}

/** Rewrite one complete HEADERS frame (header + payload); padding is dropped. undefined = keep the frame. */
export function rewriteHeadersFrame(frame: Buffer): Buffer | undefined {
  const flags = frame[4];
  if (!(flags & FLAG_END_HEADERS)) return undefined; // continued in CONTINUATION frames: leave it alone
  let start = 9, end = frame.length;
  if (flags & FLAG_PADDED) {
    const pad = frame[9];
    start = 10; end -= pad;
  }
  const priority = flags & FLAG_PRIORITY ? frame.subarray(start, start + 5) : Buffer.alloc(0);
  if (flags & FLAG_PRIORITY) start += 5;
  if (start > end) return undefined;
  const block = rewriteHeaderBlock(frame.subarray(start, end));
  if (!block) return undefined;
  const payload = priority.length + block.length;
  if (payload > 16384) return undefined; // must stay within the default SETTINGS_MAX_FRAME_SIZE
  const head = Buffer.from(frame.subarray(0, 9));
  head.writeUIntBE(payload, 0, 3);
  head[4] = flags & ~FLAG_PADDED;
  return Buffer.concat([head, priority, block]);
}

/**
 * The start of one client connection, read before grpc-js gets the socket. Feed it every chunk from the
 * beginning (client preface included); `ready` turns true once the client has acknowledged our SETTINGS and
 * has sent a request or went quiet (the caller decides the latter with a timer); `bytes()` then gives what to
 * hand on: the same frames minus that ACK, with :authority fixed in HEADERS frames.
 */
export class H2Preamble {
  private pending: Buffer = Buffer.alloc(0);
  private out: Buffer[] = [];
  private acked = false;
  private sawHeaders = false;
  private sawPreface = false;

  push(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    if (!this.sawPreface) {
      if (this.pending.length < PREFACE_LEN) return;
      this.out.push(this.pending.subarray(0, PREFACE_LEN));
      this.pending = this.pending.subarray(PREFACE_LEN);
      this.sawPreface = true;
    }
    while (this.pending.length >= 9) {
      const size = 9 + this.pending.readUIntBE(0, 3);
      if (this.pending.length < size) break;
      const frame = this.pending.subarray(0, size);
      this.pending = this.pending.subarray(size);
      const type = frame[3], flags = frame[4];
      if (type === SETTINGS && flags & FLAG_ACK && !this.acked) { this.acked = true; continue; }
      if (type === HEADERS) {
        this.sawHeaders = true;
        this.out.push(rewriteHeadersFrame(frame) ?? frame);
      } else this.out.push(frame);
    }
  }

  /** Our SETTINGS acknowledged: from here on nothing is lost by handing the socket over. */
  get acknowledged(): boolean { return this.acked; }
  /** Acknowledged and a request seen: hand over now. */
  get ready(): boolean { return this.acked && this.sawHeaders; }
  /** Buffered bytes so far, frames in order (an incomplete last frame at the end, untouched). */
  bytes(): Buffer { return Buffer.concat([...this.out, this.pending]); }
  /** Bytes held (a misbehaving client must not make us buffer without bound). */
  get size(): number { return this.out.reduce((n, b) => n + b.length, 0) + this.pending.length; }
}
