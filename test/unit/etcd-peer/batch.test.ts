// The peer stream's MessageBatch, encoded by hand: the same bytes peer.proto describes (protobufjs reads ours and
// we read protobufjs'), 64-bit ids kept exactly, and malformed batches refused with an error naming the problem.
import t from 'tap';
import path from 'node:path';
import protobuf from 'protobufjs';
import { decodeBatch, encodeBatch } from '../../../control/etcd/peer/batch.ts';
import { encodeMessage, decodeMessage } from '../../../control/etcd/raft/codec.ts';
import { message } from '../../../control/etcd/raft/index.ts';
import type { Message } from '../../../control/etcd/raft/index.ts';

const root = new protobuf.Root().loadSync(path.resolve(import.meta.dirname, '../../../control/etcd/peer/peer.proto'), { keepCase: true });
const Batch = root.lookupType('ktspeer.MessageBatch');

const msgs: Message[] = [
  message({ type: 'MsgApp', to: 2, from: 1, term: 3, logTerm: 3, index: 9, commit: 8,
    entries: [{ term: 3, index: 10, type: 'Normal', data: Buffer.from('put a') }, { term: 3, index: 11, type: 'Normal', data: Buffer.alloc(0) }] }),
  message({ type: 'MsgHeartbeat', to: 2, from: 1, term: 3, commit: 8, context: Buffer.from('ctx') }),
  message({ type: 'MsgSnap', to: 2, from: 1, term: 3,
    snapshot: { data: Buffer.alloc(5000, 7), metadata: { index: 50, term: 2, confState: { voters: [1, 2, 3], learners: [] } } } }),
];
const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

t.test('protobufjs reads our batch as peer.proto describes it', (t) => {
  const bytes = encodeBatch('18446744073709551615', '2', '9007199254740993', msgs);
  const o = Batch.toObject(Batch.decode(bytes), { longs: String, bytes: Buffer }) as { cluster_id: string; from: string; to: string; messages: Buffer[] };
  t.equal(o.cluster_id, '18446744073709551615', 'all 64 bits of the cluster id');
  t.equal(o.from, '2');
  t.equal(o.to, '9007199254740993', 'ids above 2^53 are exact');
  t.equal(o.messages.length, 3);
  for (let i = 0; i < msgs.length; i++) t.equal(hex(o.messages[i]), hex(encodeMessage(msgs[i])), `message ${i} is its raftpb bytes`);
  t.end();
});

t.test('we read a batch protobufjs wrote', (t) => {
  const bytes = Batch.encode(Batch.fromObject({
    cluster_id: '12345678901234567890', from: '1', to: '2', messages: msgs.map((m) => Buffer.from(encodeMessage(m))),
  })).finish();
  const b = decodeBatch(bytes);
  t.equal(b.clusterId, '12345678901234567890');
  t.equal(b.from, '1');
  t.equal(b.to, '2');
  t.equal(b.messages.length, 3);
  for (let i = 0; i < msgs.length; i++) t.equal(hex(encodeMessage(b.messages[i])), hex(encodeMessage(msgs[i])), `message ${i} round-trips`);
  t.same(decodeMessage(encodeMessage(b.messages[0])).entries.map((e) => Buffer.from(e.data).toString()), ['put a', '']);
  t.end();
});

t.test('an empty batch and unknown fields', (t) => {
  const b = decodeBatch(encodeBatch('7', '1', '2', []));
  t.same({ ...b }, { clusterId: '7', from: '1', to: '2', messages: [] });
  // field 9 (unknown, varint) and field 10 (unknown, bytes) are skipped
  const withUnknown = Buffer.concat([encodeBatch('7', '1', '2', msgs.slice(0, 1)), Buffer.from([0x48, 0x05, 0x52, 0x02, 0xaa, 0xbb])]);
  t.equal(decodeBatch(withUnknown).messages.length, 1);
  t.end();
});

t.test('malformed batches are refused naming the problem', (t) => {
  const good = encodeBatch('7', '1', '2', msgs);
  t.throws(() => decodeBatch(good.subarray(0, good.byteLength - 3)), /MessageBatch: field of \d+ bytes runs past the end|raftpb Message/);
  t.throws(() => decodeBatch(Buffer.from([0x0a, 0x01, 0x00])), /MessageBatch: field 1 has wire type 2, expected 0/);
  t.throws(() => decodeBatch(Buffer.from([0x22, 0x02, 0x08, 0x63])), /raftpb Message: message type 99 is not supported/);
  t.throws(() => decodeBatch(Buffer.from([0x08, 0xff])), /MessageBatch: varint runs past the end/);
  t.throws(() => encodeBatch('-1', '1', '2', []), /cluster_id -1 is not a uint64/);
  t.throws(() => encodeBatch('x', '1', '2', []), /cluster_id "x" is not a number/);
  t.end();
});
