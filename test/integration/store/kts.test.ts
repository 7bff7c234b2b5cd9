// The store suite against kts etcd: a 3-member Raft cluster of bin/kts etcd processes.
import t from 'tap';
import { startCluster } from './fixtures/clusters.ts';
import type { Cluster } from './fixtures/clusters.ts';
import { etcdctl, storeSuite } from './fixtures/suite.ts';
import { durabilitySuite } from './fixtures/durability.ts';
import { membershipSuite } from './fixtures/membership.ts';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Store } from '../../../control/etcd/mvcc/store.ts';
import { restoreSnapshot } from '../../../control/etcd/server/snapshot.ts';
import { schedulingPolicy, threadsNamed } from '../../../control/etcd/server/cpu-sharing.ts';

let cluster: Cluster | undefined;
// a low snapshot count so that the restarts below recover from snapshot files plus the WAL tail
t.before(async () => { cluster = await startCluster('kts', 3, ['--snapshot-count', '100']); });
t.teardown(async () => { await cluster?.stop(); });
storeSuite(t, () => cluster!);

t.test('snapshot save: the pages hold our keyspace encoding, length-prefixed', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kts-snapshot-save-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  t.equal((await etcdctl(cluster!.endpoints, ['put', '/saved/key', 'saved value'])).code, 0);
  const file = path.join(dir, 'snap.db');
  t.equal((await etcdctl([cluster!.endpoints[0]], ['snapshot', 'save', file])).code, 0);
  const bytes = await readFile(file);
  const length = Number(bytes.readBigUInt64BE(0));
  t.ok(8 + length <= bytes.length - 32, 'the length fits in the pages');
  const store = new Store();
  restoreSnapshot(store, bytes.subarray(8, 8 + length));
  t.equal(store.range({ key: Buffer.from('/saved/key') }).kvs[0]?.value.toString(), 'saved value');
});

t.test("members run V8's helper threads under SCHED_IDLE (cpu-sharing.ts)", async (t) => {
  const SCHED_IDLE = 5;
  for (const proc of cluster!.procs.values()) {
    const pid = proc!.pid!;
    const helpers = threadsNamed('V8Worker', pid);
    t.ok(helpers.length > 0, `member ${pid} has V8 helper threads`);
    t.same(helpers.map((tid) => schedulingPolicy(tid, pid)), helpers.map(() => SCHED_IDLE));
  }
});

// failure tests last: they kill and restart members
t.test('durability', async (t) => durabilitySuite(t, () => cluster!));
t.test('membership', async (t) => membershipSuite(t, () => cluster!));
