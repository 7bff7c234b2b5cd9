// The store suite against a single-member kts etcd (what a one-master cluster and the apiserver tests run).
import t from 'tap';
import { startCluster } from './fixtures/clusters.ts';
import type { Cluster } from './fixtures/clusters.ts';
import { storeSuite } from './fixtures/suite.ts';
import { durabilitySuite } from './fixtures/durability.ts';
import { membershipSuite } from './fixtures/membership.ts';

let cluster: Cluster | undefined;
t.before(async () => { cluster = await startCluster('kts', 1); });
t.teardown(async () => { await cluster?.stop(); });
storeSuite(t, () => cluster!);

// failure tests last: they kill and restart members
t.test('durability', async (t) => durabilitySuite(t, () => cluster!));
// a lone member grows to two and back (it runs Raft too)
t.test('membership', async (t) => membershipSuite(t, () => cluster!));
