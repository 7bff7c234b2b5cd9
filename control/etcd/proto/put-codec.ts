// Hand-written codecs for the one request that dominates a write load: Put. Every Put crosses four encodings
// on the member that receives it (gRPC request, log entry, gRPC response) and one on every other member (log
// entry), and protobufjs' object conversion (fromObject/toObject, int64 strings through Long) costs more than
// the rest of the write path. These produce and read the same wire bytes as the .proto files say, and the
// same JS shapes as load.ts's conversion (keepCase, int64 as decimal strings, bytes as Buffer, defaults
// present, oneof member named), so callers cannot tell them apart (test/unit/etcd-server/put-codec.test.ts).
// Anything else (or any surprise on the wire) falls back to protobufjs.
import type { KeyValue, PutRequest, PutResponse } from '../mvcc/types.ts';

const EMPTY = Buffer.alloc(0);

// ---- writing ----

function varintLen(v: number): number {
  let n = 1;
  while (v >= 0x80) { v = Math.floor(v / 0x80); n++; }
  return n;
}

function putVarint(buf: Buffer, pos: number, v: number): number {
  while (v >= 0x80) { buf[pos++] = (v % 0x80) | 0x80; v = Math.floor(v / 0x80); }
  buf[pos++] = v;
  return pos;
}

/** int64/uint64 given as a number or decimal string: its varint bytes (two's complement for negatives). */
function int64Bytes(v: string | number | undefined | null): Buffer | undefined {
  if (v === undefined || v === null || v === '' || v === 0 || v === '0') return undefined;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) {
    const b = Buffer.allocUnsafe(varintLen(v));
    putVarint(b, 0, v);
    return b;
  }
  let big = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  while (big >= 0x80n) { out.push(Number(big & 0x7fn) | 0x80); big >>= 7n; }
  out.push(Number(big));
  return Buffer.from(out);
}

/** Fields of one message being written: sizes first, then one buffer. */
class Fields {
  private readonly parts: Array<{ tag: number; kind: 'varint' | 'bytes' | 'raw'; num?: number; bytes?: Uint8Array }> = [];
  size = 0;

  varint(field: number, v: number | boolean | undefined): this {
    const n = typeof v === 'boolean' ? (v ? 1 : 0) : (v ?? 0);
    if (n === 0) return this;
    this.parts.push({ tag: field << 3, kind: 'varint', num: n });
    this.size += 1 + varintLen(n);
    return this;
  }

  int64(field: number, v: string | number | undefined | null): this {
    const b = int64Bytes(v);
    if (!b) return this;
    this.parts.push({ tag: field << 3, kind: 'raw', bytes: b });
    this.size += 1 + b.byteLength;
    return this;
  }

  bytes(field: number, b: Uint8Array | undefined | null, always = false): this {
    if (!b || (b.byteLength === 0 && !always)) return this;
    this.parts.push({ tag: (field << 3) | 2, kind: 'bytes', bytes: b });
    this.size += 1 + varintLen(b.byteLength) + b.byteLength;
    return this;
  }

  message(field: number, f: Fields): this {
    const b = f.finish();
    this.parts.push({ tag: (field << 3) | 2, kind: 'bytes', bytes: b });
    this.size += 1 + varintLen(b.byteLength) + b.byteLength;
    return this;
  }

  finish(): Buffer {
    const buf = Buffer.allocUnsafe(this.size);
    let pos = 0;
    for (const p of this.parts) {
      buf[pos++] = p.tag;
      if (p.kind === 'varint') pos = putVarint(buf, pos, p.num!);
      else if (p.kind === 'raw') { buf.set(p.bytes!, pos); pos += p.bytes!.byteLength; }
      else { pos = putVarint(buf, pos, p.bytes!.byteLength); buf.set(p.bytes!, pos); pos += p.bytes!.byteLength; }
    }
    return buf;
  }
}

function putRequestFields(p: PutRequest): Fields {
  return new Fields().bytes(1, p.key).bytes(2, p.value).int64(3, p.lease)
    .varint(4, !!p.prev_kv).varint(5, !!p.ignore_value).varint(6, !!p.ignore_lease);
}

function keyValueFields(kv: KeyValue): Fields {
  return new Fields().bytes(1, kv.key).int64(2, kv.create_revision).int64(3, kv.mod_revision).int64(4, kv.version)
    .bytes(5, kv.value).int64(6, kv.lease);
}

/** ktsetcd.InternalRequest { id, put } as protobufjs would write it. */
export function encodeInternalPut(id: string, put: PutRequest): Buffer {
  return new Fields().int64(1, id).message(3, putRequestFields(put)).finish();
}

export interface ResponseHeader { cluster_id: string; member_id: string; revision: number; raft_term: number }

/** etcdserverpb.PutResponse { header, prev_kv } (what the KV service answers a Put with). */
export function encodePutResponse(res: PutResponse & { header: ResponseHeader }): Buffer {
  const h = res.header;
  const f = new Fields().message(1, new Fields().int64(1, h.cluster_id).int64(2, h.member_id).int64(3, h.revision).int64(4, h.raft_term));
  if (res.prev_kv) f.message(2, keyValueFields(res.prev_kv));
  return f.finish();
}

// ---- reading ----

class Reader {
  readonly buf: Buffer;
  pos: number;
  readonly end: number;
  constructor(buf: Buffer, pos: number, end: number) { this.buf = buf; this.pos = pos; this.end = end; }

  /** A varint as a number (exact below 2^53; int64() reads wider ones exactly). */
  varint(): number {
    let result = 0, mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error('varint runs past the end');
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
    throw new Error('varint longer than 10 bytes');
  }

  /** An int64/uint64 varint as a decimal string (signed or not), exact for all 64 bits. */
  int64(signed: boolean): string {
    const start = this.pos;
    const n = this.varint();
    if (this.pos - start <= 7) return String(n); // below 2^49: exact as a number, and never negative
    let v = 0n;
    for (let i = start, shift = 0n; i < this.pos; i++, shift += 7n) v |= BigInt(this.buf[i] & 0x7f) << shift;
    return (signed ? BigInt.asIntN(64, v) : BigInt.asUintN(64, v)).toString();
  }

  bytesEnd(): number {
    const len = this.varint();
    const end = this.pos + len;
    if (end > this.end) throw new Error('field runs past the end');
    return end;
  }

  bytes(): Buffer {
    const end = this.bytesEnd();
    const b = this.buf.subarray(this.pos, end);
    this.pos = end;
    return b;
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 2) this.pos = this.bytesEnd();
    else if (wire === 1) this.pos += 8;
    else if (wire === 5) this.pos += 4;
    else throw new Error(`wire type ${wire} is not supported`);
    if (this.pos > this.end) throw new Error('field runs past the end');
  }
}

function readPut(r: Reader, end: number): PutRequest {
  const p: PutRequest = { key: EMPTY, value: EMPTY, lease: '0', prev_kv: false, ignore_value: false, ignore_lease: false };
  while (r.pos < end) {
    const tag = r.varint();
    switch (tag) {
      case 0x0a: p.key = r.bytes(); break;
      case 0x12: p.value = r.bytes(); break;
      case 0x18: p.lease = r.int64(true); break;
      case 0x20: p.prev_kv = r.varint() !== 0; break;
      case 0x28: p.ignore_value = r.varint() !== 0; break;
      case 0x30: p.ignore_lease = r.varint() !== 0; break;
      default: r.skip(tag & 7);
    }
  }
  if (r.pos !== end) throw new Error('field runs past the end');
  return p;
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** etcdserverpb.PutRequest as grpc-js hands it to a handler (proto-loader conversion); throws when malformed. */
export function decodePutRequest(data: Uint8Array): PutRequest {
  const buf = asBuffer(data);
  return readPut(new Reader(buf, 0, buf.byteLength), buf.byteLength);
}

/**
 * ktsetcd.InternalRequest holding a put, as load.ts decodeMessage returns it ({ id, put, request: 'put' }).
 * Undefined for any other request (or anything unexpected): decode those with protobufjs.
 */
export function decodeInternalPut(data: Uint8Array): ({ id: string; put: PutRequest; request: 'put' }) | undefined {
  const buf = asBuffer(data);
  const r = new Reader(buf, 0, buf.byteLength);
  let id = '0';
  let put: PutRequest | undefined;
  try {
    while (r.pos < r.end) {
      const tag = r.varint();
      if (tag === 0x08) id = r.int64(false);
      else if (tag === 0x1a && !put) { const end = r.bytesEnd(); put = readPut(r, end); }
      else return undefined;
    }
  } catch {
    return undefined;
  }
  return put ? { id, put, request: 'put' } : undefined;
}
