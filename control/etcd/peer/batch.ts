// ktspeer.MessageBatch (peer.proto) by hand: the peer stream carries one per round trip, on every member, so it
// is written straight into one buffer (each Raft message in etcd's raftpb bytes, ../raft/codec.ts; entry data
// copied once) and read back without an intermediate object: the messages' entry data are views into it.
import { decodeMessage, messageSize, varintSize, writeMessage, writeVarint } from '../raft/codec.ts';
import type { Message } from '../raft/index.ts';

export interface MessageBatch {
  /** uint64 ids as decimal strings (all 64 bits kept). */
  clusterId: string;
  from: string;
  to: string;
  messages: Message[];
}

function bigVarintSize(v: bigint): number {
  let n = 1;
  while (v >= 0x80n) { v >>= 7n; n++; }
  return n;
}

function writeBigVarint(buf: Uint8Array, pos: number, v: bigint): number {
  while (v >= 0x80n) {
    buf[pos++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  buf[pos++] = Number(v);
  return pos;
}

function uint64(s: string, what: string): bigint {
  let v: bigint;
  try { v = BigInt(s); } catch { throw new Error(`MessageBatch: ${what} "${s}" is not a number`); }
  if (v < 0n || v >= 1n << 64n) throw new Error(`MessageBatch: ${what} ${s} is not a uint64`);
  return v;
}

/** Encode a batch; `sizes` may pass messageSize() of each message when the caller already computed them. */
export function encodeBatch(clusterId: string, from: string, to: string, messages: Message[], sizes?: number[]): Buffer {
  const cid = uint64(clusterId, 'cluster_id');
  const f = uint64(from, 'from');
  const t = uint64(to, 'to');
  const ms = sizes ?? messages.map(messageSize);
  let total = 3 + bigVarintSize(cid) + bigVarintSize(f) + bigVarintSize(t);
  for (const n of ms) total += 1 + varintSize(n) + n;
  const buf = Buffer.allocUnsafe(total);
  let pos = 0;
  buf[pos++] = 0x08; pos = writeBigVarint(buf, pos, cid);
  buf[pos++] = 0x10; pos = writeBigVarint(buf, pos, f);
  buf[pos++] = 0x18; pos = writeBigVarint(buf, pos, t);
  for (let i = 0; i < messages.length; i++) {
    buf[pos++] = 0x22;
    pos = writeVarint(buf, pos, ms[i]);
    const end = writeMessage(buf, pos, messages[i]);
    if (end !== pos + ms[i]) throw new Error(`MessageBatch: message ${i} wrote ${end - pos} bytes, sized ${ms[i]}`);
    pos = end;
  }
  if (pos !== total) throw new Error(`MessageBatch: wrote ${pos} bytes, sized ${total}`);
  return buf;
}

function readBigVarint(buf: Uint8Array, c: { pos: number }): bigint {
  let v = 0n;
  for (let shift = 0n; shift < 70n; shift += 7n) {
    if (c.pos >= buf.byteLength) throw new Error('varint runs past the end');
    const b = buf[c.pos++];
    v |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) return BigInt.asUintN(64, v);
  }
  throw new Error('varint longer than 10 bytes');
}

/** Decode a batch; throws an Error naming what is malformed. Entry data in the messages are views into buf. */
export function decodeBatch(buf: Uint8Array): MessageBatch {
  const b: MessageBatch = { clusterId: '0', from: '0', to: '0', messages: [] };
  const c = { pos: 0 };
  try {
    while (c.pos < buf.byteLength) {
      const tag = Number(readBigVarint(buf, c));
      const field = tag >>> 3, wire = tag & 7;
      if (field >= 1 && field <= 3) {
        if (wire !== 0) throw new Error(`field ${field} has wire type ${wire}, expected 0`);
        const v = readBigVarint(buf, c).toString();
        if (field === 1) b.clusterId = v; else if (field === 2) b.from = v; else b.to = v;
        continue;
      }
      if (wire === 0) { readBigVarint(buf, c); continue; }
      if (wire === 1 || wire === 5) { c.pos += wire === 1 ? 8 : 4; if (c.pos > buf.byteLength) throw new Error('field runs past the end'); continue; }
      if (wire !== 2) throw new Error(`wire type ${wire} is not supported`);
      const len = Number(readBigVarint(buf, c));
      const end = c.pos + len;
      if (end > buf.byteLength) throw new Error(`field of ${len} bytes runs past the end`);
      if (field === 4) b.messages.push(decodeMessage(buf, c.pos, end));
      c.pos = end;
    }
  } catch (err) {
    const msg = (err as Error).message;
    throw new Error(msg.startsWith('raftpb') ? msg : `MessageBatch: ${msg}`);
  }
  return b;
}
