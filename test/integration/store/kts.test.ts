// The store suite against kts etcd: a 3-member Raft cluster of bin/kts etcd processes.
import t from 'tap';
import { startCluster } from './fixtures/clusters.ts';
import type { Cluster } from './fixtures/clusters.ts';
import { storeSuite } from './fixtures/suite.ts';
import { durabilitySuite } from './fixtures/durability.ts';
import { membershipSuite } from './fixtures/membership.ts';

let cluster: Cluster | undefined;
// a low snapshot count so that the restarts below recover from snapshot files plus the WAL tail
t.before(async () => { cluster = await startCluster('kts', 3, ['--snapshot-count', '100']); });
t.teardown(async () => { await cluster?.stop(); });
storeSuite(t, () => cluster!);

// failure tests last: they kill and restart members
t.test('durability', async (t) => durabilitySuite(t, () => cluster!));
t.test('membership', async (t) => membershipSuite(t, () => cluster!));
