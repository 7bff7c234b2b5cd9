// Storage over a real etcd: guarded create/update/delete, paged lists at a revision, and the watch cache.
import t from 'tap';
import { ApiError } from '../../../api/errors.ts';
import { EtcdStore } from '../../../control/apiserver/storage/etcd-store.ts';
import { WatchCache, type CacheEvent } from '../../../control/apiserver/storage/watch-cache.ts';
import { startEtcd } from '../../../control/apiserver/testing/etcd.ts';

const etcd = await startEtcd();
const store = new EtcdStore([etcd.endpoint]);
t.teardown(async () => { store.close(); await etcd.stop(); });
const prefix = `/registry/test-${Math.random().toString(36).slice(2, 8)}/`;

t.test('create is guarded against an existing key, update against a stale revision', async (t) => {
  const key = `${prefix}default/a`;
  const rv1 = await store.create(key, { kind: 'Thing', metadata: { name: 'a', resourceVersion: '999' } });
  t.ok(rv1 && rv1 > 0, 'created with a revision');
  t.equal(await store.create(key, { kind: 'Thing', metadata: { name: 'a' } }), null, 'second create refused');
  const got = await store.get(key);
  t.equal(got?.obj.metadata?.resourceVersion, String(rv1), 'resourceVersion is the mod revision, not the stored field');
  const rv2 = await store.update(key, { kind: 'Thing', metadata: { name: 'a' }, spec: 1 }, rv1!);
  t.ok(rv2 && rv2 > rv1!, 'update at the current revision succeeds');
  t.equal(await store.update(key, { kind: 'Thing', metadata: { name: 'a' }, spec: 2 }, rv1!), null, 'stale update refused');
  t.equal(await store.delete(key, rv1!), null, 'stale delete refused');
  t.ok(await store.delete(key, rv2!), 'delete at the current revision');
  t.equal(await store.get(key), null);
});

t.test('paged list with limit, continue key and a fixed revision', async (t) => {
  const p = `${prefix}paged/`;
  for (let i = 0; i < 25; i++) await store.create(`${p}${String(i).padStart(3, '0')}`, { metadata: { name: `n${i}` } });
  const first = await store.list(p, { limit: 10 });
  t.equal(first.items.length, 10);
  t.ok(first.more);
  await store.create(`${p}999`, { metadata: { name: 'late' } });
  const second = await store.list(p, { limit: 100, from: first.nextKey, revision: first.revision });
  t.equal(second.items.length, 15, 'the list continues at the first revision: the late object is not seen');
  t.notOk(second.more);
  const filtered = await store.list(p, { limit: 3, filter: (o) => Number(o.metadata!.name!.slice(1)) % 2 === 0 });
  t.same(filtered.items.map((i) => i.obj.metadata!.name), ['n0', 'n2', 'n4']);
});

t.test('watch cache: one etcd watch, replay from a revision, 410 when too old', async (t) => {
  const p = `${prefix}cache/`;
  await store.create(`${p}x`, { metadata: { name: 'x' } });
  const cache = new WatchCache(store, p, 3);
  await cache.start();
  t.teardown(() => cache.stop());
  t.equal(cache.size, 1);
  const seen: CacheEvent[] = [];
  const stop = cache.watch(undefined, (e) => seen.push(e));
  t.same(seen.map((e) => e.type), ['ADDED'], 'synthetic ADDED for existing objects');
  const rvY = await store.create(`${p}y`, { metadata: { name: 'y' } });
  const cur = await store.get(`${p}x`);
  const rvX2 = await store.update(`${p}x`, { metadata: { name: 'x' }, v: 2 }, cur!.rv);
  await store.delete(`${p}y`, rvY!);
  await cache.waitFor((await store.currentRevision()));
  t.same(seen.map((e) => `${e.type}:${e.obj.metadata!.name}`), ['ADDED:x', 'ADDED:y', 'MODIFIED:x', 'DELETED:y']);
  t.equal(seen[3]!.obj.metadata!.resourceVersion, String(seen[3]!.rv), 'DELETED carries the deletion revision');
  stop();
  const replay: string[] = [];
  cache.watch(rvY!, (e) => replay.push(e.type))();
  t.same(replay, ['MODIFIED', 'DELETED'], 'resume after rvY replays only later events');
  t.equal(rvX2! > rvY!, true);
  for (let i = 0; i < 8; i++) await store.create(`${p}z${i}`, { metadata: { name: `z${i}` } });
  await cache.waitFor(await store.currentRevision());
  let code = 0;
  try { cache.watch(rvY!, () => {}); } catch (e) { code = e instanceof ApiError ? e.code : -1; }
  t.equal(code, 410, 'too old -> Expired');
});

t.test('compaction: reads at a compacted revision are 410 Expired', async (t) => {
  const p = `${prefix}compact/`;
  await store.create(`${p}a`, { metadata: { name: 'a' } });
  const old = await store.currentRevision();
  await store.create(`${p}b`, { metadata: { name: 'b' } });
  await store.compact(await store.currentRevision());
  let code = 0;
  try { await store.list(p, { revision: old }); } catch (e) { code = e instanceof ApiError ? e.code : -1; }
  t.equal(code, 410);
  t.equal((await store.list(p)).items.length, 2, 'current reads are unaffected');
});

t.test('watch cache: a lost etcd watch is replaced, clients are closed, and the state is relisted', async (t) => {
  const p = `${prefix}resync/`;
  await store.create(`${p}a`, { metadata: { name: 'a' } });
  const cache = new WatchCache(store, p, 10);
  const errs: string[] = [];
  await cache.start((e) => errs.push(e.message));
  t.teardown(() => cache.stop());
  let closed = false;
  cache.watch(undefined, () => {}, () => { closed = true; });
  const b = await store.create(`${p}b`, { metadata: { name: 'b' } });
  // the etcd3 client reports a cancelled watch (e.g. compacted while disconnected) through this path
  (cache as unknown as { failed(e: Error): void }).failed(new Error('Watcher canceled: compacted'));
  for (let i = 0; i < 100 && !closed; i++) await new Promise((r) => setTimeout(r, 20));
  t.ok(closed, 'client watches are ended so they resume against fresh state');
  t.same(errs, ['Watcher canceled: compacted']);
  t.ok(cache.get(`${p}b`), 'objects written before the failure are there');
  await store.create(`${p}c`, { metadata: { name: 'c' } });
  await cache.waitFor(await store.currentRevision());
  t.ok(cache.get(`${p}c`), 'and the new etcd watch delivers later writes');
  let code = 0;
  try { cache.watch(b! - 1, () => {}); } catch (e) { code = e instanceof ApiError ? e.code : -1; }
  t.equal(code, 410, 'resuming from before the resync is Expired (the history is gone)');
});
