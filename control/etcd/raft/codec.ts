// Binary encoding of Raft messages, entries, hard states and conf changes in etcd's raftpb wire format
// (field numbers from etcd-io/raft raftpb/raft.proto), for the peer transport and for conf change entries.
// Decoders ignore unknown fields and reject malformed input with an Error naming what is wrong.
import protobuf from 'protobufjs/minimal.js';
import type { ConfChange, ConfChangeType, ConfState, Entry, EntryType, HardState, Message, MessageType, Snapshot } from './types.ts';

type Reader = protobuf.Reader;

const MESSAGE_TYPES: MessageType[] = [
  'MsgHup', 'MsgBeat', 'MsgProp', 'MsgApp', 'MsgAppResp', 'MsgVote', 'MsgVoteResp', 'MsgSnap', 'MsgHeartbeat',
  'MsgHeartbeatResp', 'MsgUnreachable', 'MsgSnapStatus', 'MsgCheckQuorum', 'MsgTransferLeader', 'MsgTimeoutNow',
  'MsgReadIndex', 'MsgReadIndexResp', 'MsgPreVote', 'MsgPreVoteResp',
];
const CONF_CHANGE_TYPES: Record<number, ConfChangeType | undefined> = { 0: 'AddNode', 1: 'RemoveNode', 3: 'AddLearnerNode' };
const CONF_CHANGE_CODES: Record<ConfChangeType, number> = { AddNode: 0, RemoveNode: 1, AddLearnerNode: 3 };

const VARINT = 0;
const BYTES = 2;

function u64(r: Reader): number {
  const v = r.uint64() as unknown as number | { toNumber(): number };
  return typeof v === 'number' ? v : v.toNumber();
}

function tag(field: number, wire: number): number {
  return (field << 3) | wire;
}

// ---- writers ----

// Message: hand-written, since it is on the hot path (every append, every ack, on every member). The bytes are
// the same protobufjs would write for etcd's schema, fields in number order; sizes are computed first so a
// message (or a batch of them, ../peer/batch.ts) is written into one buffer with each entry's data copied once.

/** Bytes of a varint holding n (a non-negative integer below 2^53). */
export function varintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  let size = 4;
  for (n = Math.floor(n / 0x10000000); n > 0; n = Math.floor(n / 0x80)) size++;
  return size;
}

/** Write n (a non-negative integer below 2^53) as a varint at pos; returns the position after it. */
export function writeVarint(buf: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80000000) {
    buf[pos++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  while (n >= 0x80) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  buf[pos++] = n;
  return pos;
}

const fieldSize = (n: number) => 1 + varintSize(n);
const bytesFieldSize = (len: number) => 1 + varintSize(len) + len;

function entryBodySize(e: Entry): number {
  return 2 + fieldSize(e.term) + fieldSize(e.index) + bytesFieldSize(e.data.byteLength);
}

function confStateSize(cs: ConfState): number {
  let n = 0;
  for (const v of cs.voters) n += fieldSize(v);
  for (const l of cs.learners) n += fieldSize(l);
  return n;
}

function snapshotMetadataSize(s: Snapshot): number {
  return bytesFieldSize(confStateSize(s.metadata.confState)) + fieldSize(s.metadata.index) + fieldSize(s.metadata.term);
}

function snapshotSize(s: Snapshot): number {
  return bytesFieldSize(s.data.byteLength) + bytesFieldSize(snapshotMetadataSize(s));
}

/** Encoded size of a raftpb Message. */
export function messageSize(m: Message): number {
  let n = 2 + fieldSize(m.to) + fieldSize(m.from) + fieldSize(m.term) + fieldSize(m.logTerm) + fieldSize(m.index);
  for (const e of m.entries) n += bytesFieldSize(entryBodySize(e));
  n += fieldSize(m.commit);
  if (m.snapshot) n += bytesFieldSize(snapshotSize(m.snapshot));
  n += 2 + fieldSize(m.rejectHint);
  if (m.context) n += bytesFieldSize(m.context.byteLength);
  return n;
}

function putBytes(buf: Uint8Array, pos: number, data: Uint8Array): number {
  pos = writeVarint(buf, pos, data.byteLength);
  buf.set(data, pos);
  return pos + data.byteLength;
}

/** Write m as a raftpb Message at pos (messageSize(m) bytes); returns the position after it. */
export function writeMessage(buf: Uint8Array, pos: number, m: Message): number {
  const type = MESSAGE_TYPES.indexOf(m.type);
  if (type < 0) throw new Error(`raftpb Message: unknown message type ${String(m.type)}`);
  buf[pos++] = tag(1, VARINT); buf[pos++] = type;
  buf[pos++] = tag(2, VARINT); pos = writeVarint(buf, pos, m.to);
  buf[pos++] = tag(3, VARINT); pos = writeVarint(buf, pos, m.from);
  buf[pos++] = tag(4, VARINT); pos = writeVarint(buf, pos, m.term);
  buf[pos++] = tag(5, VARINT); pos = writeVarint(buf, pos, m.logTerm);
  buf[pos++] = tag(6, VARINT); pos = writeVarint(buf, pos, m.index);
  for (const e of m.entries) {
    buf[pos++] = tag(7, BYTES); pos = writeVarint(buf, pos, entryBodySize(e));
    buf[pos++] = tag(1, VARINT); buf[pos++] = e.type === 'ConfChange' ? 1 : 0;
    buf[pos++] = tag(2, VARINT); pos = writeVarint(buf, pos, e.term);
    buf[pos++] = tag(3, VARINT); pos = writeVarint(buf, pos, e.index);
    buf[pos++] = tag(4, BYTES); pos = putBytes(buf, pos, e.data);
  }
  buf[pos++] = tag(8, VARINT); pos = writeVarint(buf, pos, m.commit);
  if (m.snapshot) {
    const s = m.snapshot;
    buf[pos++] = tag(9, BYTES); pos = writeVarint(buf, pos, snapshotSize(s));
    buf[pos++] = tag(1, BYTES); pos = putBytes(buf, pos, s.data);
    buf[pos++] = tag(2, BYTES); pos = writeVarint(buf, pos, snapshotMetadataSize(s));
    buf[pos++] = tag(1, BYTES); pos = writeVarint(buf, pos, confStateSize(s.metadata.confState));
    for (const v of s.metadata.confState.voters) { buf[pos++] = tag(1, VARINT); pos = writeVarint(buf, pos, v); }
    for (const l of s.metadata.confState.learners) { buf[pos++] = tag(2, VARINT); pos = writeVarint(buf, pos, l); }
    buf[pos++] = tag(2, VARINT); pos = writeVarint(buf, pos, s.metadata.index);
    buf[pos++] = tag(3, VARINT); pos = writeVarint(buf, pos, s.metadata.term);
  }
  buf[pos++] = tag(10, VARINT); buf[pos++] = m.reject ? 1 : 0;
  buf[pos++] = tag(11, VARINT); pos = writeVarint(buf, pos, m.rejectHint);
  if (m.context) { buf[pos++] = tag(12, BYTES); pos = putBytes(buf, pos, m.context); }
  return pos;
}

export function encodeMessage(m: Message): Uint8Array {
  const buf = new Uint8Array(messageSize(m));
  const end = writeMessage(buf, 0, m);
  if (end !== buf.byteLength) throw new Error(`raftpb Message: wrote ${end} bytes, sized ${buf.byteLength}`);
  return buf;
}

export function encodeHardState(hs: HardState): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32(tag(1, VARINT)).uint64(hs.term);
  w.uint32(tag(2, VARINT)).uint64(hs.vote);
  w.uint32(tag(3, VARINT)).uint64(hs.commit);
  return w.finish();
}

/** raftpb.ConfChange, the data of a ConfChange entry. */
export function encodeConfChangePb(cc: ConfChange): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32(tag(1, VARINT)).uint64(0);
  w.uint32(tag(2, VARINT)).int32(CONF_CHANGE_CODES[cc.type]);
  w.uint32(tag(3, VARINT)).uint64(cc.nodeId);
  if (cc.context) w.uint32(tag(4, BYTES)).bytes(cc.context);
  return w.finish();
}

// ---- readers ----

/** Read a length-delimited sub-message, calling onField for each field; unknown fields are skipped. */
function readFields(r: Reader, end: number, onField: (field: number, wire: number) => boolean): void {
  while (r.pos < end) {
    const t = r.uint32();
    const field = t >>> 3;
    const wire = t & 7;
    if (!onField(field, wire)) r.skipType(wire);
  }
  if (r.pos !== end) throw new Error('field runs past the end of its message');
}


// ---- the hand-written Message decoder (hot path; entry data and contexts are views into the input) ----

class Cursor {
  readonly buf: Uint8Array;
  pos: number;
  constructor(buf: Uint8Array, pos = 0) { this.buf = buf; this.pos = pos; }

  varint(): number {
    const buf = this.buf;
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= buf.byteLength) throw new Error('varint runs past the end of the message');
      const b = buf[this.pos++];
      if (i < 8) result += (b & 0x7f) * mul; // beyond 2^56 precision is gone anyway: ids and indexes stay below 2^53
      if (b < 0x80) {
        if (result > Number.MAX_SAFE_INTEGER) throw new Error('number above 2^53');
        return result;
      }
      mul *= 128;
    }
    throw new Error('varint longer than 10 bytes');
  }

  /** A length-delimited field's end offset (after reading its length). */
  lengthEnd(): number {
    const len = this.varint();
    const end = this.pos + len;
    if (end > this.buf.byteLength) throw new Error(`field of ${len} bytes runs past the end of the message`);
    return end;
  }

  bytes(): Uint8Array {
    const end = this.lengthEnd();
    const b = this.buf.subarray(this.pos, end);
    this.pos = end;
    return b;
  }

  skip(wire: number): void {
    switch (wire) {
      case 0: this.varintSkip(); return;
      case 1: this.pos += 8; break;
      case 2: this.pos = this.lengthEnd(); return;
      case 5: this.pos += 4; break;
      default: throw new Error(`wire type ${wire} is not supported`);
    }
    if (this.pos > this.buf.byteLength) throw new Error('field runs past the end of the message');
  }

  private varintSkip(): void {
    while (this.pos < this.buf.byteLength) if (this.buf[this.pos++] < 0x80) return;
    throw new Error('varint runs past the end of the message');
  }
}

/** Read fields up to end, calling onField for each; unknown fields (onField false) are skipped. */
function fields(c: Cursor, end: number, onField: (field: number, wire: number) => boolean): void {
  while (c.pos < end) {
    const t = c.varint();
    const field = t >>> 3;
    const wire = t & 7;
    if (field === 0) throw new Error('field number 0');
    if (!onField(field, wire)) c.skip(wire);
  }
  if (c.pos !== end) throw new Error('field runs past the end of its message');
}

function expectWire(wire: number, want: number, what: string): void {
  if (wire !== want) throw new Error(`${what} has wire type ${wire}, expected ${want}`);
}

function repeatedU64(c: Cursor, wire: number, out: number[]): void {
  if (wire === BYTES) {
    const end = c.lengthEnd();
    while (c.pos < end) out.push(c.varint());
    if (c.pos !== end) throw new Error('packed field runs past its end');
  } else {
    expectWire(wire, VARINT, 'a number');
    out.push(c.varint());
  }
}

function readEntry(c: Cursor, end: number): Entry {
  const e: Entry = { term: 0, index: 0, type: 'Normal', data: EMPTY };
  while (c.pos < end) {
    const t = c.varint();
    switch (t) {
      case 0x08: {
        const type = c.varint();
        if (type !== 0 && type !== 1) throw new Error(`entry type ${type} is not supported (EntryNormal or EntryConfChange)`);
        e.type = (type === 1 ? 'ConfChange' : 'Normal') as EntryType;
        break;
      }
      case 0x10: e.term = c.varint(); break;
      case 0x18: e.index = c.varint(); break;
      case 0x22: e.data = c.bytes(); break;
      default:
        if ((t >>> 3) === 0) throw new Error('field number 0');
        c.skip(t & 7);
    }
  }
  if (c.pos !== end) throw new Error('field runs past the end of its message');
  return e;
}

function readSnapshot(c: Cursor, end: number): Snapshot {
  const s: Snapshot = { metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } }, data: EMPTY };
  fields(c, end, (f, w) => {
    if (f === 1) { expectWire(w, BYTES, 'snapshot data'); s.data = c.bytes(); return true; }
    if (f !== 2) return false;
    expectWire(w, BYTES, 'snapshot metadata');
    fields(c, c.lengthEnd(), (mf, mw) => {
      if (mf === 2) { expectWire(mw, VARINT, 'snapshot index'); s.metadata.index = c.varint(); return true; }
      if (mf === 3) { expectWire(mw, VARINT, 'snapshot term'); s.metadata.term = c.varint(); return true; }
      if (mf !== 1) return false;
      expectWire(mw, BYTES, 'conf state');
      fields(c, c.lengthEnd(), (cf, cw) => {
        if (cf === 1) repeatedU64(c, cw, s.metadata.confState.voters);
        else if (cf === 2) repeatedU64(c, cw, s.metadata.confState.learners);
        else if (cf === 3 || cf === 4) throw new Error('joint configurations are not supported');
        else return false;
        return true;
      });
      return true;
    });
    return true;
  });
  return s;
}

const EMPTY = new Uint8Array(0);

function wrap<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new Error(`raftpb ${what}: ${(err as Error).message}`);
  }
}

/** Decode a raftpb Message at buf[start, end) (default: all of buf). Entry data are views into buf. */
export function decodeMessage(buf: Uint8Array, start = 0, end = buf.byteLength): Message {
  return wrap('Message', () => {
    const c = new Cursor(buf, start);
    const m: Message = {
      type: 'MsgHup', to: 0, from: 0, term: 0, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0,
    };
    while (c.pos < end) {
      const t = c.varint();
      switch (t) {
        case 0x08: {
          const n = c.varint();
          const type = MESSAGE_TYPES[n];
          if (type === undefined) throw new Error(`message type ${n} is not supported`);
          m.type = type;
          break;
        }
        case 0x10: m.to = c.varint(); break;
        case 0x18: m.from = c.varint(); break;
        case 0x20: m.term = c.varint(); break;
        case 0x28: m.logTerm = c.varint(); break;
        case 0x30: m.index = c.varint(); break;
        case 0x3a: { const e = c.lengthEnd(); m.entries.push(readEntry(c, e)); break; }
        case 0x40: m.commit = c.varint(); break;
        case 0x4a: { const e = c.lengthEnd(); m.snapshot = readSnapshot(c, e); break; }
        case 0x50: m.reject = c.varint() !== 0; break;
        case 0x58: m.rejectHint = c.varint(); break;
        case 0x62: m.context = c.bytes(); break;
        default:
          if ((t >>> 3) === 0) throw new Error('field number 0');
          if ((t >>> 3) <= 12) throw new Error(`field ${t >>> 3} has wire type ${t & 7}`);
          c.skip(t & 7);
      }
      if (c.pos > end) throw new Error('field runs past the end of the message');
    }
    if (c.pos !== end) throw new Error('field runs past the end of the message');
    // Older etcd versions send an empty snapshot on every message; only MsgSnap carries a real one.
    if (m.type !== 'MsgSnap') delete m.snapshot;
    else if (!m.snapshot) throw new Error('MsgSnap without a snapshot');
    return m;
  });
}

export function decodeHardState(buf: Uint8Array): HardState {
  return wrap('HardState', () => {
    const r = protobuf.Reader.create(buf);
    const hs: HardState = { term: 0, vote: 0, commit: 0 };
    readFields(r, buf.byteLength, (f) => {
      if (f === 1) hs.term = u64(r);
      else if (f === 2) hs.vote = u64(r);
      else if (f === 3) hs.commit = u64(r);
      else return false;
      return true;
    });
    return hs;
  });
}

export function decodeConfChangePb(buf: Uint8Array): ConfChange {
  return wrap('ConfChange', () => {
    const r = protobuf.Reader.create(buf);
    let type: ConfChangeType = 'AddNode';
    let nodeId = 0;
    let context: Uint8Array | undefined;
    readFields(r, buf.byteLength, (f) => {
      if (f === 1) u64(r);
      else if (f === 2) {
        const t = r.int32();
        const ct = CONF_CHANGE_TYPES[t];
        if (!ct) throw new Error(`conf change type ${t} is not supported (AddNode, RemoveNode, AddLearnerNode)`);
        type = ct;
      } else if (f === 3) nodeId = u64(r);
      else if (f === 4) context = r.bytes();
      else return false;
      return true;
    });
    if (nodeId <= 0) throw new Error('node_id must be a positive integer');
    const cc: ConfChange = { type, nodeId };
    if (context && context.byteLength > 0) cc.context = context;
    return cc;
  });
}
