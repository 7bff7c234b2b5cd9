// raftpb wire format: round trips, cross-check against a protobufjs schema with etcd's field numbers, and
// clear errors for malformed input.
import t from 'tap';
import protobuf from 'protobufjs';
import { decodeConfChange, encodeConfChange, message } from '../../../control/etcd/raft/index.ts';
import { decodeHardState, decodeMessage, encodeHardState, encodeMessage } from '../../../control/etcd/raft/codec.ts';
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
