// raftpb wire format: round trips, cross-check against a protobufjs schema with etcd's field numbers, and
// clear errors for malformed input.
import t from 'tap';
import protobuf from 'protobufjs';
import { isDeepStrictEqual } from 'node:util';
import { decodeConfChange, encodeConfChange, message, seededRand } from '../../../control/etcd/raft/index.ts';
import { decodeHardState, decodeMessage, encodeHardState, encodeMessage, messageSize, writeMessage } from '../../../control/etcd/raft/codec.ts';
import type { Message } from '../../../control/etcd/raft/index.ts';

const enc = new TextEncoder();

// The subset of etcd's raftpb schema we speak (field numbers are facts of the wire format).
const schema = protobuf.parse(`
syntax = "proto2";
package raftpb;
message Entry { optional uint64 Term = 2; optional uint64 Index = 3; optional int32 Type = 1; optional bytes Data = 4; }
message ConfState { repeated uint64 voters = 1; repeated uint64 learners = 2; }
message SnapshotMetadata { optional ConfState conf_state = 1; optional uint64 index = 2; optional uint64 term = 3; }
message Snapshot { optional bytes data = 1; optional SnapshotMetadata metadata = 2; }
message Message {
  optional int32 type = 1; optional uint64 to = 2; optional uint64 from = 3; optional uint64 term = 4;
  optional uint64 logTerm = 5; optional uint64 index = 6; repeated Entry entries = 7; optional uint64 commit = 8;
  optional Snapshot snapshot = 9; optional bool reject = 10; optional uint64 rejectHint = 11; optional bytes context = 12;
}
message ConfChange { optional uint64 id = 1; optional int32 type = 2; optional uint64 node_id = 3; optional bytes context = 4; }
`).root;

t.test('messages round-trip, including entries, snapshots, context and large numbers', (t) => {
  const msgs: Message[] = [
    message({ type: 'MsgApp', to: 2, from: 1, term: 7, logTerm: 6, index: 2 ** 40, commit: 99,
      entries: [{ term: 7, index: 2 ** 40 + 1, type: 'Normal', data: enc.encode('put k v') },
        { term: 7, index: 2 ** 40 + 2, type: 'ConfChange', data: encodeConfChange({ type: 'AddNode', nodeId: 4 }) }] }),
    message({ type: 'MsgAppResp', to: 1, from: 2, term: 7, index: 5, reject: true, rejectHint: 3, logTerm: 2 }),
    message({ type: 'MsgHeartbeat', to: 3, from: 1, term: 7, commit: 4, context: enc.encode('read-1') }),
    message({ type: 'MsgSnap', to: 4, from: 1, term: 7,
      snapshot: { metadata: { index: 100, term: 6, confState: { voters: [1, 2, 3], learners: [4] } }, data: enc.encode('db') } }),
    message({ type: 'MsgPreVoteResp', to: 1, from: 3, term: 8 }),
  ];
  for (const m of msgs) t.same(decodeMessage(encodeMessage(m)), m, m.type);
  t.end();
});

t.test('our encoding is what a raftpb decoder reads, and vice versa', (t) => {
  const M = schema.lookupType('raftpb.Message');
  const m = message({ type: 'MsgApp', to: 2, from: 1, term: 3, logTerm: 2, index: 10, commit: 9,
    entries: [{ term: 3, index: 11, type: 'Normal', data: enc.encode('x') }] });
  const obj = M.toObject(M.decode(encodeMessage(m)), { longs: Number, bytes: String }) as Record<string, unknown>;
  t.equal(obj.type, 3, 'MsgApp is 3');
  t.equal(obj.logTerm, 2);
  t.equal(obj.index, 10);
  t.same((obj.entries as Array<Record<string, unknown>>)[0], { Term: 3, Index: 11, Type: 0, Data: Buffer.from('x').toString('base64') });
  const theirs = M.encode(M.fromObject({ type: 17, to: 1, from: 2, term: 5, logTerm: 4, index: 8 })).finish();
  const ours = decodeMessage(theirs);
  t.equal(ours.type, 'MsgPreVote');
  t.equal(ours.term, 5);
  const CC = schema.lookupType('raftpb.ConfChange');
  const cc = CC.toObject(CC.decode(encodeConfChange({ type: 'AddLearnerNode', nodeId: 9 })), { longs: Number }) as Record<string, unknown>;
  t.equal(cc.type, 3, 'ConfChangeAddLearnerNode is 3');
  t.equal(cc.nodeId, 9);
  t.same(decodeConfChange(CC.encode(CC.fromObject({ type: 1, nodeId: 5 })).finish()), { type: 'RemoveNode', nodeId: 5 });
  t.same(Buffer.from(encodeHardState({ term: 1, vote: 2, commit: 3 })).toString('hex'), '080110021803');
  t.same(decodeHardState(Buffer.from('080110021803', 'hex')), { term: 1, vote: 2, commit: 3 });
  t.end();
});

t.test('malformed input is refused with a clear error', (t) => {
  t.throws(() => decodeMessage(Uint8Array.from([0x08, 0x63])), /raftpb Message: message type 99 is not supported/);
  t.throws(() => decodeMessage(Uint8Array.from([0x3a, 0x10, 0x01])), /raftpb Message/);
  t.throws(() => decodeMessage(Uint8Array.from([0x08, 0x07])), /MsgSnap without a snapshot/);
  t.throws(() => decodeConfChange(enc.encode('{"type":"AddNode"}')), /raftpb ConfChange/);
  t.throws(() => decodeConfChange(Uint8Array.from([0x10, 0x02, 0x18, 0x01])), /conf change type 2 is not supported/);
  t.end();
});

// ---- random messages against the protobufjs schema (the hand-written encoder and decoder are the hot path) ----

const TYPES: Message['type'][] = [
  'MsgHup', 'MsgBeat', 'MsgProp', 'MsgApp', 'MsgAppResp', 'MsgVote', 'MsgVoteResp', 'MsgSnap', 'MsgHeartbeat',
  'MsgHeartbeatResp', 'MsgUnreachable', 'MsgSnapStatus', 'MsgCheckQuorum', 'MsgTransferLeader', 'MsgTimeoutNow',
  'MsgReadIndex', 'MsgReadIndexResp', 'MsgPreVote', 'MsgPreVoteResp',
];

function randomMessage(rand: () => number): Message {
  const int = (max: number) => Math.floor(rand() * max);
  // numbers of every varint length, up to 2^53 - 1
  const num = () => [0, 1, 127, 128, 16383, 16384, 2 ** 31, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER, int(2 ** 20)][int(10)];
  const bytes = (max: number) => Uint8Array.from({ length: int(max) }, () => int(256));
  const type = TYPES[int(TYPES.length)];
  const m = message({
    type, to: num(), from: num(), term: num(), logTerm: num(), index: num(), commit: num(), reject: rand() < 0.5, rejectHint: num(),
    entries: Array.from({ length: int(4) }, () => ({ term: num(), index: num(), type: rand() < 0.2 ? 'ConfChange' as const : 'Normal' as const, data: bytes(300) })),
  });
  if (rand() < 0.3) m.context = bytes(20);
  if (type === 'MsgSnap') {
    m.snapshot = { data: bytes(2000), metadata: { index: num(), term: num(), confState: { voters: Array.from({ length: int(5) }, num), learners: Array.from({ length: int(3) }, num) } } };
  }
  return m;
}

function schemaObject(m: Message): Record<string, unknown> {
  const o: Record<string, unknown> = {
    type: TYPES.indexOf(m.type), to: m.to, from: m.from, term: m.term, logTerm: m.logTerm, index: m.index, commit: m.commit,
    reject: m.reject, rejectHint: m.rejectHint,
    entries: m.entries.map((e) => ({ Term: e.term, Index: e.index, Type: e.type === 'ConfChange' ? 1 : 0, Data: Buffer.from(e.data) })),
  };
  if (m.context) o.context = Buffer.from(m.context);
  if (m.snapshot) {
    o.snapshot = { data: Buffer.from(m.snapshot.data), metadata: { index: m.snapshot.metadata.index, term: m.snapshot.metadata.term,
      confState: { voters: m.snapshot.metadata.confState.voters, learners: m.snapshot.metadata.confState.learners } } };
  }
  return o;
}

/** Bytes as hex strings (Buffer or Uint8Array alike), so that messages compare by content. */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}
const sameMessage = (a: Message, b: Message) => isDeepStrictEqual(plain(a), plain(b));

t.test('random messages: ours round-trip, protobufjs reads ours, we read protobufjs', (t) => {
  const M = schema.lookupType('raftpb.Message');
  const r42 = seededRand(42);
  const rand = () => r42.intn(2 ** 30) / 2 ** 30;
  let checked = 0;
  for (let i = 0; i < 500; i++) {
    const m = randomMessage(rand);
    const ours = encodeMessage(m);
    t.equal(ours.byteLength, messageSize(m), 'messageSize is exact');
    if (!sameMessage(decodeMessage(ours), m)) { t.fail(`round trip of ${m.type} #${i}`); break; }
    const theirView = M.toObject(M.decode(Buffer.from(ours.buffer, ours.byteOffset, ours.byteLength)), { longs: Number, bytes: Buffer, defaults: true, arrays: true }) as Record<string, unknown>;
    const expected = M.toObject(M.fromObject(schemaObject(m)), { longs: Number, bytes: Buffer, defaults: true, arrays: true });
    if (!isDeepStrictEqual(plain(theirView), plain(expected))) { t.fail(`protobufjs reads our ${m.type} #${i} differently`); break; }
    const theirs = M.encode(M.fromObject(schemaObject(m))).finish();
    if (!sameMessage(decodeMessage(theirs), m)) { t.fail(`we read protobufjs' ${m.type} #${i} differently`); break; }
    // a message written in the middle of a larger buffer decodes from its range
    const big = new Uint8Array(ours.byteLength + 7);
    t.equal(writeMessage(big, 3, m), 3 + ours.byteLength);
    if (!sameMessage(decodeMessage(big, 3, 3 + ours.byteLength), m)) { t.fail('decode from a range'); break; }
    checked++;
  }
  t.equal(checked, 500, 'all 500 random messages agree');
  t.end();
});

t.test('truncated and corrupted messages are refused with an error, never misread silently', (t) => {
  const r7 = seededRand(7);
  const rand = () => r7.intn(2 ** 30) / 2 ** 30;
  let refused = 0;
  for (let i = 0; i < 200; i++) {
    const m = randomMessage(rand);
    m.entries.push({ term: 1, index: 2, type: 'Normal', data: new Uint8Array(50).fill(9) });
    const b = encodeMessage(m);
    const cut = 1 + Math.floor(rand() * (b.byteLength - 2));
    try {
      decodeMessage(b.subarray(0, cut));
    } catch (err) {
      t.match((err as Error).message, /^raftpb Message: /);
      refused++;
      continue;
    }
    // a cut exactly at a field boundary is a valid shorter message: it must then be a prefix of the fields
  }
  t.ok(refused > 100, `most truncations are refused (${refused}/200)`);
  t.throws(() => decodeMessage(Uint8Array.from([0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])), /number above 2\^53/);
  t.throws(() => decodeMessage(Uint8Array.from([0x12, 0x00])), /field 2 has wire type 2/);
  t.throws(() => decodeMessage(Uint8Array.from([0x0b])), /raftpb Message/);
  t.end();
});
