// The store suite against the reference: a 3-member etcd 3.4 from the Debian package.
import t from 'tap';
import { startCluster } from './fixtures/clusters.ts';
import type { Cluster } from './fixtures/clusters.ts';
import { storeSuite } from './fixtures/suite.ts';
import { durabilitySuite } from './fixtures/durability.ts';
import { membershipSuite } from './fixtures/membership.ts';

let cluster: Cluster | undefined;
t.before(async () => { cluster = await startCluster('etcd', 3); });
t.teardown(async () => { await cluster?.stop(); });
storeSuite(t, () => cluster!);

// failure tests last: they kill and restart members
t.test('durability', async (t) => durabilitySuite(t, () => cluster!));
t.test('membership', async (t) => membershipSuite(t, () => cluster!));
