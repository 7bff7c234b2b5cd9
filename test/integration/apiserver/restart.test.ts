// The apiserver is stateless: a second apiserver started on the same etcd comes up on the data the first left,
// including the default/kubernetes Service whose ClusterIP it re-asserts, and still refuses that IP to others.
import t from 'tap';
import { startEtcd } from '../../../control/apiserver/testing/etcd.ts';
import { startControlPlane } from '../harness/controlplane.ts';
import { until } from '../../support/until.ts';

t.test('apiserver restarts on an etcd that already holds its data', async (t) => {
  const etcd = await startEtcd();
  t.teardown(() => etcd.stop());
  const first = await startControlPlane({ etcd });
  // the apiserver creates its own Service shortly after it starts serving
  const before = await until('kubernetes Service', async () => {
    const res = await fetch(`${first.server}/api/v1/namespaces/default/services/kubernetes`);
    return res.ok && await res.json() as { metadata: { uid: string }; spec: { clusterIP: string } };
  });
  await first.stop();

  const second = await startControlPlane({ etcd });
  t.teardown(() => second.stop());
  const after = await (await fetch(`${second.server}/api/v1/namespaces/default/services/kubernetes`)).json() as typeof before;
  t.equal(after.metadata.uid, before.metadata.uid, 'the same kubernetes Service, not a new one');
  t.equal(after.spec.clusterIP, before.spec.clusterIP);

  const res = await fetch(`${second.server}/api/v1/namespaces/default/services`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ metadata: { name: 'thief' }, spec: { clusterIP: before.spec.clusterIP, ports: [{ port: 80 }] } }),
  });
  t.equal(res.status, 422, 'another Service cannot take the kubernetes ClusterIP');
  t.match(((await res.json()) as { message: string }).message, /provided IP is already allocated/);
});
