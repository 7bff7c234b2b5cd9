// The hand-written Put codecs against protobufjs with load.ts's conversion (what grpc-js and the log use):
// random requests decode to the same objects, our bytes decode (by protobufjs) to the same objects, and
// anything that is not a plain put is left to protobufjs.
import t from 'tap';
import { decodeMessage, encodeMessage, messageType } from '../../../control/etcd/proto/load.ts';
import { decodeInternalPut, decodePutRequest, encodeInternalPut, encodePutResponse } from '../../../control/etcd/proto/put-codec.ts';
import { seededRand } from '../../../control/etcd/raft/index.ts';
import type { PutRequest } from '../../../control/etcd/mvcc/types.ts';

const PutReq = messageType('etcdserverpb.PutRequest');
const PutRes = messageType('etcdserverpb.PutResponse');
const Internal = messageType('ktsetcd.InternalRequest');

const r = seededRand(11);
const pick = <T>(xs: T[]): T => xs[r.intn(xs.length)];
const bytes = (max: number) => Buffer.from(Array.from({ length: r.intn(max) }, () => r.intn(256)));
const int64s = ['0', '1', '127', '128', '300', '562949953421311', '562949953421312', '9007199254740993', '9223372036854775807', '-1', '-9223372036854775808'];
const uint64s = ['1', '281474976710657', '18446744073709551615', '12345678901234567890'];

function randomPut(): PutRequest {
  // as grpc-js hands it over: decoded from the wire with defaults
  return decodeMessage<PutRequest>(PutReq, encodeMessage(PutReq, {
    key: bytes(40), value: bytes(300), lease: pick(int64s), prev_kv: r.intn(2) === 1, ignore_value: r.intn(2) === 1, ignore_lease: r.intn(2) === 1,
  }));
}

t.test('PutRequest: what protobufjs writes, we read as grpc-js would hand it over', (t) => {
  let same = 0;
  for (let i = 0; i < 300; i++) {
    const p = randomPut();
    const wire = PutReq.encode(PutReq.fromObject(p)).finish();
    if (JSON.stringify(decodePutRequest(wire)) === JSON.stringify(decodeMessage(PutReq, wire))) same++;
    else t.fail(`put #${i}: ${JSON.stringify(decodePutRequest(wire))} vs ${JSON.stringify(decodeMessage(PutReq, wire))}`);
  }
  t.equal(same, 300);
  t.same(decodePutRequest(Buffer.alloc(0)), decodeMessage(PutReq, Buffer.alloc(0)), 'an empty request has every default');
  t.throws(() => decodePutRequest(Buffer.from([0x0a, 0x05, 0x61])), /runs past the end/);
  t.end();
});

t.test('InternalRequest put: protobufjs reads ours as its own, and we read both', (t) => {
  let same = 0;
  for (let i = 0; i < 300; i++) {
    const id = pick(uint64s);
    const put = randomPut();
    const ours = encodeInternalPut(id, put);
    const theirs = encodeMessage(Internal, { id, put });
    const expected = JSON.stringify(decodeMessage(Internal, theirs));
    const ok = JSON.stringify(decodeMessage(Internal, ours)) === expected
      && JSON.stringify(decodeInternalPut(ours)) === expected
      && JSON.stringify(decodeInternalPut(theirs)) === expected;
    if (ok) same++; else t.fail(`internal put #${i}`);
  }
  t.equal(same, 300);
  t.end();
});

t.test('other requests are left to protobufjs', (t) => {
  const txn = encodeMessage(Internal, { id: '5', txn: { compare: [], success: [{ request_put: { key: Buffer.from('a'), value: Buffer.from('b') } }], failure: [] } });
  t.equal(decodeInternalPut(txn), undefined, 'a txn');
  t.equal(decodeInternalPut(encodeMessage(Internal, { id: '5', lease_grant: { ID: '1', TTL: '5' } })), undefined, 'a lease grant');
  t.equal(decodeInternalPut(encodeMessage(Internal, { id: '5' })), undefined, 'no request at all');
  t.equal(decodeInternalPut(Buffer.from([0x08])), undefined, 'truncated');
  t.end();
});

t.test('PutResponse: protobufjs reads ours as what it would have written', (t) => {
  let same = 0;
  for (let i = 0; i < 200; i++) {
    const header = { cluster_id: pick(uint64s), member_id: pick(uint64s), revision: r.intn(2 ** 40), raft_term: r.intn(100) };
    const res: Parameters<typeof encodePutResponse>[0] = { header };
    if (r.intn(2) === 1) {
      res.prev_kv = { key: bytes(20), value: bytes(100), create_revision: r.intn(1e6), mod_revision: r.intn(1e6), version: r.intn(10), lease: pick(int64s) };
    }
    const ours = decodeMessage(PutRes, encodePutResponse(res));
    const theirs = decodeMessage(PutRes, encodeMessage(PutRes, res));
    if (JSON.stringify(ours) === JSON.stringify(theirs)) same++; else t.fail(`response #${i}: ${JSON.stringify(ours)} vs ${JSON.stringify(theirs)}`);
  }
  t.equal(same, 200);
  t.end();
});
