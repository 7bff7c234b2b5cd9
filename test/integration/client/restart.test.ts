// An informer and a leader survive losing the apiserver: a TCP pass-through in front of the real apiserver drops
// every connection and refuses new ones for a while (as a crashed apiserver would), changes are made behind the
// client's back meanwhile, then the path comes back on the same port. Errors are reported while it is down, the
// cache converges on what changed and the leader keeps its lease, without a new informer or elector.
// (A real kill + restart of `kts apiserver` on existing etcd data is not used: see the report of this part.)
import t from 'tap';
import { randomBytes } from 'node:crypto';
import type { V1ConfigMap, V1Lease, V1Namespace } from '@kubernetes/client-node';
import { Informer } from '../../../client/informer.ts';
import { LeaderElector } from '../../../client/leaderelection.ts';
import { resources } from '../../../client/resources.ts';
import { RestClient } from '../../../client/rest.ts';
import { startCluster, startOutageProxy } from './fixtures/cluster.ts';
import { until } from '../../support/until.ts';

const cluster = await startCluster();
t.teardown(() => cluster.stop());
const direct = cluster.client;
const proxy = await startOutageProxy(cluster.api.port);
const client = new RestClient({ ...cluster.clientConfig, server: proxy.url });
t.teardown(async () => {
  client.close();
  await proxy.cut();
});


t.test('informer and leader ride through an apiserver outage', async (t) => {
  const ns = `client-restart-${randomBytes(3).toString('hex')}`;
  await client.create<V1Namespace>(resources.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const cms = { ...resources.configmaps, namespace: ns };
  const cm = (name: string, v: string): V1ConfigMap => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { v } });
  await client.create(cms, cm('keep', '1'));
  await client.create(cms, cm('drop', '1'));

  const errors: unknown[] = [];
  const events: string[] = [];
  const inf = new Informer<V1ConfigMap>(client, cms, { backoffBaseMs: 100, backoffMaxMs: 500, onError: (e) => errors.push(e) });
  inf.addEventHandler({
    onAdd: (c) => events.push(`add ${c.metadata!.name}`),
    onUpdate: (o, c) => { if (o !== c) events.push(`update ${c.metadata!.name} v=${c.data!.v}`); },
    onDelete: (c) => events.push(`delete ${c.metadata!.name}`),
  });
  t.teardown(() => inf.stop());
  inf.start();
  await inf.waitForSync();
  t.same(events.sort(), ['add drop', 'add keep']);

  const leaderLog: string[] = [];
  const abort = new AbortController();
  // A lease long enough to outlast the outage: the leader keeps leading if it renews in time.
  const elector = new LeaderElector({
    client, namespace: ns, name: 'leader', identity: 'only',
    leaseDurationMs: 60_000, renewDeadlineMs: 45_000, retryPeriodMs: 200,
    onStartedLeading: () => { leaderLog.push('started'); },
    onStoppedLeading: () => { leaderLog.push('stopped'); },
    onError: () => {},
  });
  const electing = elector.run(abort.signal);
  t.teardown(async () => {
    abort.abort();
    await electing;
  });
  await until('leading', () => elector.isLeader());

  await proxy.cut();
  await until('the informer reports the lost connection', () => errors.length > 0);
  const refused = await client.get({ ...cms, name: 'keep' }).catch((e: unknown) => e);
  t.equal((refused as NodeJS.ErrnoException).code, 'ECONNREFUSED', 'requests while down fail with a network error');
  // Changes the informer cannot see while it is cut off.
  await direct.delete({ ...cms, name: 'drop' });
  await direct.create(cms, cm('new', '1'));
  await direct.patch({ ...cms, name: 'keep' }, 'merge', { data: { v: '2' } });
  await proxy.restore();

  await until('cache converges after the outage',
    () => inf.store.has(`${ns}/new`) && !inf.store.has(`${ns}/drop`) && inf.store.getByName(ns, 'keep')?.data?.v === '2');
  const after = events.slice(2);
  t.ok(after.includes('delete drop'));
  t.ok(after.includes('add new'));
  t.ok(after.includes('update keep v=2'));
  t.same(inf.store.keys().sort(), [`${ns}/keep`, `${ns}/new`]);

  const before = (await direct.get<V1Lease>({ ...resources.leases, namespace: ns, name: 'leader' })).spec?.renewTime;
  let renewed = false;
  for (let i = 0; i < 100 && !renewed; i++) {
    await new Promise((r) => setTimeout(r, 50));
    renewed = String((await direct.get<V1Lease>({ ...resources.leases, namespace: ns, name: 'leader' })).spec?.renewTime) !== String(before);
  }
  t.ok(renewed, 'the leader renews again once the path is back');
  t.ok(elector.isLeader());
  t.same(leaderLog, ['started'], 'leadership was never lost');
});
