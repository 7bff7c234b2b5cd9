// Binary encoding of Raft messages, entries, hard states and conf changes in etcd's raftpb wire format
// (field numbers from etcd-io/raft raftpb/raft.proto), for the peer transport and for conf change entries.
// Decoders ignore unknown fields and reject malformed input with an Error naming what is wrong.
import protobuf from 'protobufjs/minimal.js';
import type { ConfChange, ConfChangeType, ConfState, Entry, EntryType, HardState, Message, MessageType, Snapshot } from './types.ts';

type Writer = protobuf.Writer;
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

function writeEntry(w: Writer, e: Entry): void {
  w.uint32(tag(1, VARINT)).int32(e.type === 'ConfChange' ? 1 : 0);
  w.uint32(tag(2, VARINT)).uint64(e.term);
  w.uint32(tag(3, VARINT)).uint64(e.index);
  w.uint32(tag(4, BYTES)).bytes(e.data);
}

function writeConfState(w: Writer, cs: ConfState): void {
  for (const v of cs.voters) w.uint32(tag(1, VARINT)).uint64(v);
  for (const l of cs.learners) w.uint32(tag(2, VARINT)).uint64(l);
}

function writeSnapshot(w: Writer, s: Snapshot): void {
  w.uint32(tag(1, BYTES)).bytes(s.data);
  w.uint32(tag(2, BYTES)).fork();
  w.uint32(tag(1, BYTES)).fork();
  writeConfState(w, s.metadata.confState);
  w.ldelim();
  w.uint32(tag(2, VARINT)).uint64(s.metadata.index);
  w.uint32(tag(3, VARINT)).uint64(s.metadata.term);
  w.ldelim();
}

export function encodeMessage(m: Message): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32(tag(1, VARINT)).int32(MESSAGE_TYPES.indexOf(m.type));
  w.uint32(tag(2, VARINT)).uint64(m.to);
  w.uint32(tag(3, VARINT)).uint64(m.from);
  w.uint32(tag(4, VARINT)).uint64(m.term);
  w.uint32(tag(5, VARINT)).uint64(m.logTerm);
  w.uint32(tag(6, VARINT)).uint64(m.index);
  for (const e of m.entries) {
    w.uint32(tag(7, BYTES)).fork();
    writeEntry(w, e);
    w.ldelim();
  }
  w.uint32(tag(8, VARINT)).uint64(m.commit);
  if (m.snapshot) {
    w.uint32(tag(9, BYTES)).fork();
    writeSnapshot(w, m.snapshot);
    w.ldelim();
  }
  w.uint32(tag(10, VARINT)).bool(m.reject);
  w.uint32(tag(11, VARINT)).uint64(m.rejectHint);
  if (m.context) w.uint32(tag(12, BYTES)).bytes(m.context);
  return w.finish();
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

function readRepeatedU64(r: Reader, wire: number, out: number[]): void {
  if (wire === BYTES) {
    const end = r.uint32() + r.pos;
    while (r.pos < end) out.push(u64(r));
  } else {
    out.push(u64(r));
  }
}

function readEntry(r: Reader, end: number): Entry {
  const e: Entry = { term: 0, index: 0, type: 'Normal', data: new Uint8Array(0) };
  readFields(r, end, (f) => {
    switch (f) {
      case 1: {
        const t = r.int32();
        if (t !== 0 && t !== 1) throw new Error(`entry type ${t} is not supported (EntryNormal or EntryConfChange)`);
        e.type = (t === 1 ? 'ConfChange' : 'Normal') as EntryType;
        return true;
      }
      case 2: e.term = u64(r); return true;
      case 3: e.index = u64(r); return true;
      case 4: e.data = r.bytes(); return true;
      default: return false;
    }
  });
  return e;
}

function readSnapshot(r: Reader, end: number): Snapshot {
  const s: Snapshot = { metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } }, data: new Uint8Array(0) };
  readFields(r, end, (f) => {
    if (f === 1) {
      s.data = r.bytes();
      return true;
    }
    if (f !== 2) return false;
    const mEnd = r.uint32() + r.pos;
    readFields(r, mEnd, (mf, mw) => {
      if (mf === 2) s.metadata.index = u64(r);
      else if (mf === 3) s.metadata.term = u64(r);
      else if (mf === 1) {
        const cEnd = r.uint32() + r.pos;
        readFields(r, cEnd, (cf, cw) => {
          if (cf === 1) readRepeatedU64(r, cw, s.metadata.confState.voters);
          else if (cf === 2) readRepeatedU64(r, cw, s.metadata.confState.learners);
          else if (cf === 3 || cf === 4) throw new Error('joint configurations are not supported');
          else return false;
          return true;
        });
      } else return false;
      void mw;
      return true;
    });
    return true;
  });
  return s;
}

function wrap<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new Error(`raftpb ${what}: ${(err as Error).message}`);
  }
}

export function decodeMessage(buf: Uint8Array): Message {
  return wrap('Message', () => {
    const r = protobuf.Reader.create(buf);
    const m: Message = {
      type: 'MsgHup', to: 0, from: 0, term: 0, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0,
    };
    readFields(r, buf.byteLength, (f) => {
      switch (f) {
        case 1: {
          const t = r.int32();
          const type = MESSAGE_TYPES[t];
          if (type === undefined) throw new Error(`message type ${t} is not supported`);
          m.type = type;
          return true;
        }
        case 2: m.to = u64(r); return true;
        case 3: m.from = u64(r); return true;
        case 4: m.term = u64(r); return true;
        case 5: m.logTerm = u64(r); return true;
        case 6: m.index = u64(r); return true;
        case 7: m.entries.push(readEntry(r, r.uint32() + r.pos)); return true;
        case 8: m.commit = u64(r); return true;
        case 9: m.snapshot = readSnapshot(r, r.uint32() + r.pos); return true;
        case 10: m.reject = r.bool(); return true;
        case 11: m.rejectHint = u64(r); return true;
        case 12: m.context = r.bytes(); return true;
        default: return false;
      }
    });
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
