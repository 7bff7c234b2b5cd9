// Watch fan-out over the keyspace: history then live events with nothing missed or doubled, filters,
// prev_kv, ranges, future start revisions, and compacted start revisions.
import t from 'tap';
import { Store } from '../../../control/etcd/mvcc/store.ts';
import { WatchHub } from '../../../control/etcd/server/watch-hub.ts';
import type { WatchSpec } from '../../../control/etcd/server/watch-hub.ts';
import type { Event } from '../../../control/etcd/mvcc/types.ts';

const b = (s: string) => Buffer.from(s);
const put = (s: Store, k: string, v: string) => s.apply({ put: { key: b(k), value: b(v) } });
const del = (s: Store, k: string) => s.apply({ delete_range: { key: b(k) } });

function watch(hub: WatchHub, spec: Partial<WatchSpec> & { key: Buffer }) {
  const got: Array<{ batch: Event[] }> = [];
  let compactedAt = 0;
  const stop = hub.add({ startRev: 0, prevKv: false, noPut: false, noDelete: false, ...spec }, {
    deliver: (events) => got.push({ batch: events }),
    compacted: (rev) => { compactedAt = rev; },
  });
  const events = () => got.flatMap((g) => g.batch).map((e) => `${e.type} ${e.kv.key}@${e.kv.mod_revision}${e.prev_kv ? ` prev=${e.prev_kv.value}` : ''}`);
  return { events, stop, batches: () => got.length, compactedAt: () => compactedAt };
}

t.test('history from a past revision, then live events, exactly once', async (t) => {
  const s = new Store();
  const hub = new WatchHub(s.kv);
  put(s, '/a/1', 'x'); // rev 2
  put(s, '/b/1', 'x'); // rev 3
  put(s, '/a/1', 'y'); // rev 4
  const w = watch(hub, { key: b('/a/'), rangeEnd: b('/a0'), startRev: 2 });
  t.same(w.events(), ['PUT /a/1@2', 'PUT /a/1@4']);
  del(s, '/a/1'); // rev 5
  put(s, '/b/2', 'x'); // rev 6, outside the range
  t.same(w.events(), ['PUT /a/1@2', 'PUT /a/1@4', 'DELETE /a/1@5']);
  w.stop();
  put(s, '/a/2', 'z');
  t.equal(w.events().length, 3, 'no events after stop');
  t.equal(hub.size, 0);
});

t.test('filters, prev_kv, single key, all keys', async (t) => {
  const s = new Store();
  const hub = new WatchHub(s.kv);
  const noPut = watch(hub, { key: b('k'), noPut: true, prevKv: true });
  const noDelete = watch(hub, { key: b('k'), noDelete: true });
  const all = watch(hub, { key: Buffer.from([0]), rangeEnd: Buffer.from([0]) });
  put(s, 'k', 'v1');
  put(s, 'k', 'v2');
  put(s, 'kk', 'other');
  del(s, 'k');
  t.same(noPut.events(), ['DELETE k@5 prev=v2']);
  t.same(noDelete.events(), ['PUT k@2', 'PUT k@3'], 'no prev_kv unless asked');
  t.same(all.events(), ['PUT k@2', 'PUT k@3', 'PUT kk@4', 'DELETE k@5']);
});

t.test('a txn is one batch; a future start revision waits for it', async (t) => {
  const s = new Store();
  const hub = new WatchHub(s.kv);
  const future = watch(hub, { key: b('t'), rangeEnd: b('u'), startRev: 3 });
  const now = watch(hub, { key: b('t'), rangeEnd: b('u') });
  put(s, 't1', 'early'); // rev 2: before the future watcher's start
  s.apply({ txn: { success: [{ request_put: { key: b('t2'), value: b('a') } }, { request_put: { key: b('t3'), value: b('b') } }] } }); // rev 3
  t.same(future.events(), ['PUT t2@3', 'PUT t3@3']);
  t.equal(future.batches(), 1);
  t.same(now.events(), ['PUT t1@2', 'PUT t2@3', 'PUT t3@3']);
});

t.test('a compacted start revision is reported, not silently skipped', async (t) => {
  const s = new Store();
  const hub = new WatchHub(s.kv);
  for (let i = 0; i < 5; i++) put(s, 'c', String(i)); // revs 2..6
  s.apply({ compaction: { revision: 5 } });
  const old = watch(hub, { key: b('c'), startRev: 3 });
  t.equal(old.compactedAt(), 5);
  t.equal(hub.size, 0, 'the compacted watcher is not registered');
  const atCompact = watch(hub, { key: b('c'), startRev: 5 });
  t.same(atCompact.events(), ['PUT c@5', 'PUT c@6']);
});
