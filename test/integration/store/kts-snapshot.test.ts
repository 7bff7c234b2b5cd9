// kts etcd only (etcd 3.4 has no flag to shrink the catch-up window): a follower that missed more than the
// entries kept after a snapshot is brought back by the leader sending it a snapshot (InstallSnapshot).
import t from 'tap';
import { Etcd3 } from 'etcd3';
import { startCluster } from './fixtures/clusters.ts';
import type { Cluster } from './fixtures/clusters.ts';
import { etcdctl } from './fixtures/suite.ts';

let cluster: Cluster | undefined;
t.before(async () => {
  cluster = await startCluster('kts', 3, ['--snapshot-count', '20', '--experimental-snapshot-catchup-entries', '5']);
});
t.teardown(async () => { await cluster?.stop(); });

async function countOn(endpoint: string, prefix: string): Promise<number> {
  const r = await etcdctl([endpoint], ['get', `${prefix}/`, '--prefix', '--keys-only', '--consistency=s', '-w', 'json']);
  if (r.code !== 0) return -1;
  return (JSON.parse(r.stdout) as { count?: number }).count ?? 0;
}

t.test('a lagging follower catches up from a snapshot', async (t) => {
  const c = cluster!;
  const prefix = '/lag';
  const lagging = c.members[2].name;
  await c.kill(lagging);
  const live = c.endpoints.slice(0, 2);
  const client = new Etcd3({ hosts: live });
  for (let i = 0; i < 200; i++) await client.put(`${prefix}/${i}`).value(String(i));
  const lease = await client.lease(600, { autoKeepAlive: false }).grant();
  await client.put(`${prefix}/leased`).value('x').exec();
  client.close();
  await c.restart(lagging);
  const ep = c.endpoints[2];
  const deadline = Date.now() + 20_000;
  let n = await countOn(ep, prefix);
  while (n !== 201 && Date.now() < deadline) { await new Promise((r) => setTimeout(r, 200)); n = await countOn(ep, prefix); }
  t.equal(n, 201, 'every key reached the restarted follower');
  const ttl = await etcdctl([ep], ['lease', 'timetolive', BigInt(lease).toString(16)]);
  t.match(ttl.stdout, /granted with TTL\(600s\)/, 'leases come with the snapshot');
  // and every member restarts from its own snapshot files
  for (const m of c.members) await c.kill(m.name);
  await Promise.all(c.members.map((m) => c.restart(m.name)));
  t.equal(await countOn(c.endpoints[2], prefix), 201);
  t.equal((await etcdctl(c.endpoints, ['get', `${prefix}/199`, '--print-value-only'])).stdout, '199\n');
});
