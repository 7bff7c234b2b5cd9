// The garbage collector hosted by the controller-manager next to the deployment and replicaset controllers, against a
// real apiserver: deleting a Deployment in the background takes its ReplicaSet and Pods with it; orphaning keeps them.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import type { V1Deployment, V1Namespace, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import { RestClient } from '../../../client/rest.ts';
import { resources } from '../../../client/resources.ts';
import { startControllerManager } from '../../../control/controller-manager/index.ts';
import { controllers } from '../../../control/controllers/index.ts';
import { newGarbageCollector } from '../../../control/controllers/garbagecollector/index.ts';
import { startControlPlane } from '../harness/controlplane.ts';
import { until } from '../../support/until.ts';

const cp = await startControlPlane();
t.teardown(() => cp.stop());
const client = new RestClient({ server: cp.server, qps: 0 });
t.teardown(() => client.close());
const logs: string[] = [];
const cm = startControllerManager({
  client, leaderElect: false, registry: { ...controllers, 'garbage-collector': newGarbageCollector },
  workers: { 'garbage-collector': 2 }, log: (msg, f) => logs.push(`${msg} ${JSON.stringify(f ?? {})}`),
});
t.teardown(() => cm.stop());
await cm.ready;

const ns = `gcm-${randomBytes(3).toString('hex')}`;
await client.create<V1Namespace>(resources.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
const deploys = { ...resources.deployments, namespace: ns };
const rss = { ...resources.replicasets, namespace: ns };
const pods = { ...resources.pods, namespace: ns };

const deployment = (name: string): V1Deployment => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name },
  spec: {
    replicas: 2, selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } },
  },
});
const ofApp = async (app: string) => ({
  rs: (await client.list<V1ReplicaSet>(rss, { labelSelector: `app=${app}` })).items,
  pods: (await client.list<V1Pod>(pods, { labelSelector: `app=${app}` })).items,
});
const running = async (app: string) => until(`${app}: a ReplicaSet and 2 pods`, async () => {
  const s = await ofApp(app);
  return s.rs.length === 1 && s.pods.length === 2 ? s : null;
}, 90_000, () => logs.slice(-20).join('\n'));

t.test('the controller-manager runs the garbage collector under its upstream name', async (t) => {
  t.ok(cm.controllers.includes('garbage-collector'));
});

t.test('background: a deleted Deployment takes its ReplicaSet and Pods with it', async (t) => {
  await client.create(deploys, deployment('bg'));
  await running('bg');
  await client.delete({ ...deploys, name: 'bg' }, { propagationPolicy: 'Background' });
  await until('ReplicaSet and Pods to be collected', async () => {
    const s = await ofApp('bg');
    return s.rs.length === 0 && s.pods.length === 0;
  }, 90_000, () => logs.slice(-20).join('\n'));
  t.pass('collected');
});

t.test('orphan: the ReplicaSet and its Pods stay, without the Deployment as owner', async (t) => {
  await client.create(deploys, deployment('or'));
  const before = await running('or');
  await client.delete({ ...deploys, name: 'or' }, { propagationPolicy: 'Orphan' });
  await until('the Deployment to be gone', async () => {
    try {
      await client.get({ ...deploys, name: 'or' });
      return false;
    } catch (err) {
      return (err as { code?: number }).code === 404;
    }
  }, 90_000);
  const after = await ofApp('or');
  t.equal(after.rs.length, 1, 'the ReplicaSet stays');
  t.equal(after.rs[0]!.metadata!.uid, before.rs[0]!.metadata!.uid);
  t.same(after.rs[0]!.metadata!.ownerReferences ?? [], [], 'and has no owner');
  t.equal(after.pods.length, 2, 'its pods stay, still owned by it');
  for (const p of after.pods) t.equal(p.metadata?.ownerReferences?.[0]?.uid, before.rs[0]!.metadata!.uid);
});

t.test('foreground: Pods, then the ReplicaSet, then the Deployment', async (t) => {
  await client.create(deploys, deployment('fg'));
  await running('fg');
  const pending = await client.delete<V1Deployment>({ ...deploys, name: 'fg' }, { propagationPolicy: 'Foreground' });
  t.same(pending.metadata?.finalizers, ['foregroundDeletion']);
  await until('the Deployment to be gone', async () => {
    try {
      await client.get({ ...deploys, name: 'fg' });
      return false;
    } catch (err) {
      return (err as { code?: number }).code === 404;
    }
  }, 90_000, () => logs.slice(-20).join('\n'));
  const left = await ofApp('fg');
  t.same([left.rs.length, left.pods.length], [0, 0], 'nothing it owned outlived it');
});
