// The hand-written snapshot encoding (server/snapshot.ts) must be the protobuf message protobufjs reads back.
import t from 'tap';
import { Store } from '../../../control/etcd/mvcc/store.ts';
import { encodeSnapshot, snapshotWriter, restoreSnapshot } from '../../../control/etcd/server/snapshot.ts';
import { messageType, decodeMessage } from '../../../control/etcd/proto/load.ts';

const b = (s: string) => Buffer.from(s, 'latin1');

function sample(): Store {
  const s = new Store();
  const bigLease = '9223372036854775001'; // needs all 63 bits
  s.apply({ lease_grant: { ID: bigLease, TTL: 60 } } as never);
  s.apply({ put: { key: b('a'), value: b('1') } } as never);
  s.apply({ put: { key: b('a'), value: b('2') } } as never);
  s.apply({ put: { key: b('\xff\x00bin'), value: Buffer.alloc(300, 7), lease: bigLease } } as never);
  s.apply({ put: { key: b('empty'), value: Buffer.alloc(0) } } as never);
  s.apply({ put: { key: b('gone'), value: b('x') } } as never);
  s.apply({ delete_range: { key: b('gone') } } as never);
  for (let i = 0; i < 200; i++) s.apply({ put: { key: b(`k${i}`), value: Buffer.alloc(i * 3, i) } } as never);
  return s;
}

t.test('every field decodes with protobufjs as written', async (t) => {
  const s = sample();
  const members = [{ ID: '18446744073709551615', name: 'm0', peerURLs: ['http://127.0.0.1:1'], clientURLs: ['http://127.0.0.1:2'] }];
  const snap = decodeMessage<{ rev: string; compact_rev: string; kvs: Array<Record<string, unknown>>; leases: unknown[]; members: unknown[] }>(
    messageType('ktsetcd.StoreSnapshot'), encodeSnapshot(s, members));
  t.equal(snap.rev, String(s.kv.rev));
  t.same(snap.members, members);
  t.same(snap.leases, [{ ID: '9223372036854775001', TTL: '60' }]);
  const want = s.kv.allVersions().map((kv) => ({
    key: kv.key, create_revision: String(kv.create_revision), mod_revision: String(kv.mod_revision),
    version: String(kv.version), value: kv.value, lease: kv.lease,
  }));
  t.equal(snap.kvs.length, want.length);
  t.same(snap.kvs, want);
  t.ok(want.some((kv) => kv.version === '0'), 'a tombstone is included');
});

t.test('restoring the encoding gives the same keyspace', async (t) => {
  const s = sample();
  s.apply({ compaction: { revision: 4 } } as never);
  const copy = new Store();
  restoreSnapshot(copy, encodeSnapshot(s));
  t.equal(copy.kv.rev, s.kv.rev);
  t.equal(copy.kv.compactRev, s.kv.compactRev);
  t.same(copy.kv.allVersions(), s.kv.allVersions());
  t.same(copy.range({ key: b('\x00'), range_end: b('\x00') } as never), s.range({ key: b('\x00'), range_end: b('\x00') } as never));
  t.equal(copy.lessor.get('9223372036854775001')?.keys.size, 1);
});

t.test('the chunked writer gives the same bytes, as of the call even if writes follow', async (t) => {
  const s = sample();
  // enough data for several chunks, and one version bigger than a chunk
  for (let i = 0; i < 3000; i++) s.apply({ put: { key: b(`bulk${i}`), value: Buffer.alloc(1000, i) } } as never);
  s.apply({ put: { key: b('huge'), value: Buffer.alloc(3 * 1024 * 1024, 9) } } as never);
  const want = encodeSnapshot(s);
  const write = snapshotWriter(s);
  s.apply({ put: { key: b('a'), value: b('later') } } as never);
  s.apply({ delete_range: { key: b('k'), range_end: b('l') } } as never);
  s.apply({ compaction: { revision: s.kv.rev } } as never);
  const chunks: Buffer[] = [];
  let reused = 0;
  let last: ArrayBufferLike | undefined;
  await write(async (chunk) => {
    if (chunk.buffer === last) reused++;
    last = chunk.buffer;
    chunks.push(Buffer.from(chunk)); // a copy: the writer reuses its buffer once this resolves
  });
  t.ok(chunks.length > 3, `written in ${chunks.length} chunks`);
  t.ok(reused > 0, 'chunks share one buffer');
  t.ok(Buffer.concat(chunks).equals(want), 'same bytes as the synchronous encoding taken at the same moment');
  t.notOk(encodeSnapshot(s).equals(want), 'the later writes did change the state');
});

t.test('the writer pauses between chunks, so timers (and requests) run while a large snapshot is written', async (t) => {
  const s = sample();
  for (let i = 0; i < 5000; i++) s.apply({ put: { key: b(`bulk${i}`), value: Buffer.alloc(1000, i) } } as never);
  const order: string[] = [];
  setTimeout(() => order.push('timer'), 0);
  await snapshotWriter(s)(async () => { order.push('chunk'); });
  const timer = order.indexOf('timer');
  t.ok(timer > 0 && timer < order.length - 1, `a timer ran between chunks: ${order.join(', ')}`);
});
