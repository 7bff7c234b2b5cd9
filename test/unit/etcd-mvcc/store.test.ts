import t from 'tap';
import { Store } from '../../../control/etcd/mvcc/store.ts';
import type { Event, TxnResponse, DeleteRangeResponse, PutResponse } from '../../../control/etcd/mvcc/types.ts';

const b = (s: string) => Buffer.from(s);
const keys = (kvs: { key: Buffer }[]) => kvs.map((kv) => kv.key.toString());

function put(s: Store, k: string, v: string, extra: object = {}) {
  return s.apply({ put: { key: b(k), value: b(v), ...extra } }) as PutResponse;
}

t.test('revisions, versions and create/mod revisions', async (t) => {
  const s = new Store();
  t.equal(s.rev, 1);
  put(s, 'a', '1');
  put(s, 'a', '2');
  put(s, 'b', '1');
  const a = s.range({ key: b('a') }).kvs[0];
  t.same([a.create_revision, a.mod_revision, a.version, a.value.toString()], [2, 3, 2, '2']);
  t.equal(s.rev, 4);
  s.apply({ delete_range: { key: b('a') } });
  t.equal(s.range({ key: b('a') }).count, 0);
  put(s, 'a', '3');
  const a2 = s.range({ key: b('a') }).kvs[0];
  t.same([a2.create_revision, a2.version], [6, 1], 'recreated key starts a new generation');
  t.equal(s.range({ key: b('a'), revision: 3 }).kvs[0].value.toString(), '2', 'old revision readable');
  t.equal(s.range({ key: b('a'), revision: 5 }).count, 0, 'deleted at revision 5');
  t.throws(() => s.range({ key: b('a'), revision: 99 }), /future revision/);
  const noop = s.apply({ delete_range: { key: b('zzz') } }) as DeleteRangeResponse;
  t.equal(noop.deleted, 0);
  t.equal(s.rev, 6, 'deleting nothing does not bump the revision');
});

t.test('range: prefix, all keys, limit, count, sort, filters', async (t) => {
  const s = new Store();
  for (const k of ['/p/c', '/p/a', '/p/b', '/q/a', '/o']) put(s, k, k === '/p/a' ? 'z' : 'v');
  t.same(keys(s.range({ key: b('/p/'), range_end: b('/p0') }).kvs), ['/p/a', '/p/b', '/p/c']);
  t.same(keys(s.range({ key: Buffer.from([0]), range_end: Buffer.from([0]) }).kvs), ['/o', '/p/a', '/p/b', '/p/c', '/q/a']);
  t.same(keys(s.range({ key: b('/p/b'), range_end: Buffer.from([0]) }).kvs), ['/p/b', '/p/c', '/q/a'], '"\\0" end = all keys >= key');
  const lim = s.range({ key: b('/p/'), range_end: b('/p0'), limit: 2 });
  t.same([keys(lim.kvs), lim.more, lim.count], [['/p/a', '/p/b'], true, 3]);
  const cnt = s.range({ key: b('/'), range_end: b('0'), count_only: true });
  t.same([cnt.kvs.length, cnt.count], [0, 5]);
  const desc = s.range({ key: b('/p/'), range_end: b('/p0'), sort_order: 'DESCEND', sort_target: 'KEY' });
  t.same(keys(desc.kvs), ['/p/c', '/p/b', '/p/a']);
  const byMod = s.range({ key: b('/p/'), range_end: b('/p0'), sort_order: 'DESCEND', sort_target: 'MOD', limit: 1 });
  t.same([keys(byMod.kvs), byMod.more], [['/p/b'], true]);
  const byValue = s.range({ key: b('/p/'), range_end: b('/p0'), sort_order: 'DESCEND', sort_target: 'VALUE', limit: 1 });
  t.same(keys(byValue.kvs), ['/p/a']);
  const ko = s.range({ key: b('/p/a'), keys_only: true });
  t.equal(ko.kvs[0].value.length, 0);
  const filtered = s.range({ key: b('/'), range_end: b('0'), min_create_revision: 3, max_create_revision: 4 });
  t.same(keys(filtered.kvs), ['/p/a', '/p/b']);
  t.throws(() => s.range({ key: Buffer.alloc(0) }), /key is not provided/);
});

t.test('put options: prev_kv, ignore_value, ignore_lease, leases', async (t) => {
  const s = new Store();
  t.same(put(s, 'k', 'v1', { prev_kv: true }), {}, 'no previous kv');
  t.equal(put(s, 'k', 'v2', { prev_kv: true }).prev_kv?.value.toString(), 'v1');
  t.throws(() => put(s, 'k', 'x', { lease: '42' }), /requested lease not found/);
  s.apply({ lease_grant: { ID: '42', TTL: 1 } });
  t.equal(s.lessor.get('42')?.ttl, 2, 'TTL raised to the minimum');
  put(s, 'k', 'v3', { lease: '42' });
  s.apply({ put: { key: b('k'), value: Buffer.alloc(0), ignore_value: true } });
  const kv = s.range({ key: b('k') }).kvs[0];
  t.same([kv.value.toString(), kv.lease], ['v3', '0'], 'ignore_value keeps value; lease 0 detaches');
  s.apply({ put: { key: b('k'), value: b('v4'), lease: '42' } });
  s.apply({ put: { key: b('k'), value: b('v5'), ignore_lease: true } });
  t.equal(s.range({ key: b('k') }).kvs[0].lease, '42', 'ignore_lease keeps lease');
  t.throws(() => s.apply({ put: { key: b('nope'), value: Buffer.alloc(0), ignore_value: true } }), /key not found/);
  put(s, 'k2', 'x', { lease: '42' });
  const before = s.rev;
  s.apply({ lease_revoke: { ID: '42' } });
  t.equal(s.range({ key: b('k'), range_end: b('l') }).count, 0, 'revoke deletes attached keys');
  t.equal(s.rev, before + 1, 'in one revision');
  t.throws(() => s.apply({ lease_revoke: { ID: '42' } }), /requested lease not found/);
  t.throws(() => s.apply({ lease_grant: { ID: '7', TTL: 9_000_000_001 } }), /too large lease TTL/);
});

t.test('txn: compares, branches, nested txn, validation', async (t) => {
  const s = new Store();
  put(s, 'a', '1');
  const txn = (compare: object[], success: object[], failure: object[] = []) =>
    s.apply({ txn: { compare: compare as never, success: success as never, failure: failure as never } }) as TxnResponse;
  let r = txn([{ key: b('a'), target: 'VALUE', result: 'EQUAL', value: b('1') }],
    [{ request_put: { key: b('a'), value: b('2') } }, { request_range: { key: b('a') } }]);
  t.equal(r.succeeded, true);
  t.equal(r.responses[1].response_range?.kvs[0].value.toString(), '2', 'reads in a txn see its writes');
  r = txn([{ key: b('a'), target: 'MOD', result: 'LESS', mod_revision: 3 }], [], [{ request_put: { key: b('f'), value: b('x') } }]);
  t.equal(r.succeeded, false);
  t.equal(s.range({ key: b('f') }).count, 1, 'failure branch ran');
  r = txn([{ key: b('missing'), target: 'VERSION', result: 'EQUAL', version: 0 }], [{ request_put: { key: b('missing'), value: b('now') } }]);
  t.equal(r.succeeded, true, 'version of a missing key is 0');
  r = txn([{ key: b('nokey'), target: 'VALUE', result: 'NOT_EQUAL', value: b('x') }], []);
  t.equal(r.succeeded, false, 'value compares on missing keys fail');
  r = txn([{ key: b('a'), range_end: b('b'), target: 'CREATE', result: 'GREATER', create_revision: 1 }], []);
  t.equal(r.succeeded, true, 'range compare');
  r = txn([], [{ request_txn: { compare: [{ key: b('a'), target: 'VERSION', result: 'EQUAL', version: 2 }],
    success: [{ request_delete_range: { key: b('a'), prev_kv: true } }], failure: [] } }]);
  t.equal(r.responses[0].response_txn?.responses[0].response_delete_range?.deleted, 1, 'nested txn');
  const rev = s.rev;
  t.throws(() => txn([], [{ request_put: { key: b('x'), value: b('1') } }, { request_put: { key: b('x'), value: b('2') } }]),
    /duplicate key/);
  t.throws(() => txn([], [{ request_put: { key: b('y'), value: b('1') } }, { request_put: { key: b('z'), value: b('2'), lease: '5' } }]),
    /lease not found/);
  t.equal(s.rev, rev, 'rejected txns change nothing');
  t.equal(s.range({ key: b('y') }).count, 0);
  t.throws(() => txn([], Array.from({ length: 129 }, (_, i) => ({ request_range: { key: b(`k${i}`) } }))), /too many operations/);
});

t.test('compaction and watch history', async (t) => {
  const s = new Store();
  const seen: Event[] = [];
  s.kv.onCommit = (evs) => seen.push(...evs);
  put(s, 'a', '1'); put(s, 'a', '2'); put(s, 'b', '1');
  s.apply({ delete_range: { key: b('b') } });
  put(s, 'a', '3');
  t.same(seen.map((e) => `${e.type}:${e.kv.key}@${e.kv.mod_revision}`), ['PUT:a@2', 'PUT:a@3', 'PUT:b@4', 'DELETE:b@5', 'PUT:a@6']);
  t.equal(s.kv.eventsSince(5).length, 2);
  t.equal(seen[1].prev_kv?.value.toString(), '1');
  s.apply({ compaction: { revision: 4 } });
  t.throws(() => s.range({ key: b('a'), revision: 3 }), /has been compacted/);
  t.equal(s.range({ key: b('a'), revision: 4 }).kvs[0].value.toString(), '2', 'compacted revision itself readable');
  t.equal(s.range({ key: b('b'), revision: 4 }).kvs[0].value.toString(), '1');
  t.throws(() => s.kv.eventsSince(3), /has been compacted/);
  t.equal(s.kv.eventsSince(4).length, 3, 'a watch may start at the compacted revision');
  t.equal(s.kv.eventsSince(5).length, 2);
  t.throws(() => s.apply({ compaction: { revision: 4 } }), /has been compacted/);
  t.throws(() => s.apply({ compaction: { revision: 100 } }), /future revision/);
  s.apply({ compaction: { revision: 6 } });
  t.equal(s.kv.keyCount, 1, 'deleted key gone after compaction past its tombstone');
  t.equal(s.range({ key: b('a') }).kvs[0].value.toString(), '3');
});

t.test('10k keys listed by prefix', async (t) => {
  const s = new Store();
  for (let i = 0; i < 10000; i++) put(s, `/registry/pods/ns${i % 10}/p${i}`, 'x');
  const r = s.range({ key: b('/registry/pods/ns3/'), range_end: b('/registry/pods/ns30') });
  t.equal(r.count, 1000);
  t.ok(r.kvs.every((kv) => kv.key.toString().startsWith('/registry/pods/ns3/')));
});

t.test('retained bytes (the reported db size) follow puts, deletes, compaction and restore', async (t) => {
  const s = new Store();
  const walked = (st: Store) => st.kv.allVersions().reduce((n, kv) => n + kv.key.length + kv.value.length + 40, 0);
  t.equal(s.kv.retainedBytes, 0);
  put(s, 'a', 'one');
  put(s, 'a', 'two');
  put(s, 'bb', 'x'.repeat(1000));
  s.apply({ delete_range: { key: b('bb') } });
  t.equal(s.kv.retainedBytes, walked(s), 'the running count equals a walk over every version');
  t.equal(s.kv.retainedBytes, (1 + 3 + 40) * 2 + (2 + 1000 + 40) + (2 + 0 + 40), 'two versions of a, bb and its tombstone');
  s.apply({ compaction: { revision: s.rev } });
  t.equal(s.kv.retainedBytes, walked(s));
  t.equal(s.kv.retainedBytes, 1 + 3 + 40, 'only the newest a survives compaction');
  const copy = new Store();
  put(s, 'c', 'three');
  copy.kv.restore(s.rev, s.kv.compactRev, s.kv.allVersions());
  t.equal(copy.kv.retainedBytes, s.kv.retainedBytes, 'a restored keyspace counts the same');
});
