import t from 'tap';
import { applyPatch } from '../../../control/apiserver/patch/index.ts';
import { ApiError } from '../../../api/errors.ts';

const deploy = { group: 'apps', version: 'v1', kind: 'Deployment' };
const smp = (current: object, patch: unknown, gvk = deploy) =>
  applyPatch('application/strategic-merge-patch+json', current, Buffer.from(JSON.stringify(patch)), { gvk }) as any;

const live = () => ({
  apiVersion: 'apps/v1', kind: 'Deployment',
  metadata: { name: 'web', namespace: 'default', labels: { app: 'web', tier: 'fe' }, finalizers: ['a', 'b'],
    annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' } },
  spec: {
    replicas: 2,
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: {
        containers: [
          { name: 'web', image: 'nginx:1', ports: [{ containerPort: 80 }, { containerPort: 443 }],
            env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }], args: ['x', 'y'] },
          { name: 'side', image: 'busybox' },
        ],
        volumes: [{ name: 'data', emptyDir: {} }],
        tolerations: [{ key: 'k', operator: 'Exists' }],
      },
    },
  },
});

// Each case: a patch of the shape kubectl 1.32 client-side apply / kubectl patch emits, and what must change.
t.test('kubectl apply shaped patches', async (t) => {
  t.test('scalar change and label delete (null)', async (t) => {
    const r = smp(live(), { metadata: { labels: { tier: null } }, spec: { replicas: 3 } });
    t.same(r.metadata.labels, { app: 'web' });
    t.equal(r.spec.replicas, 3);
    t.equal(r.spec.template.spec.containers.length, 2, 'untouched lists stay');
  });

  t.test('container removed with $patch delete and order kept by $setElementOrder', async (t) => {
    const r = smp(live(), { spec: { template: { spec: {
      '$setElementOrder/containers': [{ name: 'web' }],
      containers: [{ $patch: 'delete', name: 'side' }],
    } } } });
    t.same(r.spec.template.spec.containers.map((c: any) => c.name), ['web']);
    t.equal(r.spec.template.spec.containers[0].image, 'nginx:1');
  });

  t.test('port removed by merge key, image changed, env merged by name', async (t) => {
    const r = smp(live(), { spec: { template: { spec: {
      '$setElementOrder/containers': [{ name: 'web' }, { name: 'side' }],
      containers: [{
        '$setElementOrder/ports': [{ containerPort: 80 }],
        '$setElementOrder/env': [{ name: 'A' }, { name: 'B' }, { name: 'C' }],
        name: 'web', image: 'nginx:2',
        ports: [{ $patch: 'delete', containerPort: 443 }],
        env: [{ name: 'B', value: '20' }, { name: 'C', value: '3' }],
      }],
    } } } });
    const web = r.spec.template.spec.containers[0];
    t.equal(web.image, 'nginx:2');
    t.same(web.ports, [{ containerPort: 80 }]);
    t.same(web.env, [{ name: 'A', value: '1' }, { name: 'B', value: '20' }, { name: 'C', value: '3' }]);
    t.same(web.args, ['x', 'y']);
    t.equal(r.spec.template.spec.containers[1].name, 'side');
  });

  t.test('strategy Recreate with $retainKeys drops rollingUpdate', async (t) => {
    const r = smp(live(), { spec: { strategy: { $retainKeys: ['type'], rollingUpdate: null, type: 'Recreate' } } });
    t.same(r.spec.strategy, { type: 'Recreate' });
  });

  t.test('volume switches emptyDir to configMap with $retainKeys', async (t) => {
    const r = smp(live(), { spec: { template: { spec: { volumes: [
      { $retainKeys: ['configMap', 'name'], configMap: { name: 'cm' }, emptyDir: null, name: 'data' },
    ] } } } });
    t.same(r.spec.template.spec.volumes, [{ name: 'data', configMap: { name: 'cm' } }]);
  });

  t.test('$retainKeys with a field not in the list is rejected', async (t) => {
    t.throws(() => smp(live(), { spec: { strategy: { $retainKeys: ['type'], rollingUpdate: { maxSurge: 1 }, type: 'Recreate' } } }),
      { reason: 'BadRequest', code: 400 });
  });

  t.test('finalizers: primitive set merge and $deleteFromPrimitiveList', async (t) => {
    const r = smp(live(), { metadata: { finalizers: ['c', 'a'] } });
    t.same(r.metadata.finalizers.sort(), ['a', 'b', 'c']);
    const d = smp(live(), { metadata: { '$deleteFromPrimitiveList/finalizers': ['a'], '$setElementOrder/finalizers': ['b'] } });
    t.same(d.metadata.finalizers, ['b']);
    const none = smp({ metadata: { name: 'x' } }, { metadata: { '$deleteFromPrimitiveList/finalizers': ['a'] } }, { group: '', version: 'v1', kind: 'ConfigMap' });
    t.same(none.metadata, { name: 'x' }, 'deleting from a missing list adds nothing');
  });

  t.test('atomic lists are replaced whole', async (t) => {
    const r = smp(live(), { spec: { template: { spec: {
      tolerations: [{ key: 'z', operator: 'Equal', value: 'v' }],
      containers: [{ name: 'web', args: ['only'] }],
    } } } });
    t.same(r.spec.template.spec.tolerations, [{ key: 'z', operator: 'Equal', value: 'v' }]);
    t.same(r.spec.template.spec.containers[0].args, ['only']);
  });

  t.test('a new container goes where upstream puts it (before server-only items)', async (t) => {
    const r = smp(live(), { spec: { template: { spec: { containers: [{ name: 'new', image: 'redis' }] } } } });
    t.same(r.spec.template.spec.containers.map((c: any) => c.name), ['new', 'web', 'side']);
    const ordered = smp(live(), { spec: { template: { spec: {
      '$setElementOrder/containers': [{ name: 'web' }, { name: 'side' }, { name: 'new' }],
      containers: [{ name: 'new', image: 'redis' }],
    } } } });
    t.same(ordered.spec.template.spec.containers.map((c: any) => c.name), ['web', 'side', 'new']);
  });

  t.test('rollout restart patch adds a template annotation', async (t) => {
    const r = smp(live(), { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-01-01T00:00:00Z' } } } } });
    t.same(r.spec.template.metadata.annotations, { 'kubectl.kubernetes.io/restartedAt': '2026-01-01T00:00:00Z' });
    t.same(r.spec.template.metadata.labels, { app: 'web' });
  });

  t.test('$patch replace on a map and on a list', async (t) => {
    const r = smp(live(), { spec: { selector: { $patch: 'replace', matchLabels: { app: 'other' } } } });
    t.same(r.spec.selector, { matchLabels: { app: 'other' } });
    const l = smp(live(), { spec: { template: { spec: { containers: [{ $patch: 'replace' }, { name: 'only', image: 'x' }] } } } });
    t.same(l.spec.template.spec.containers, [{ name: 'only', image: 'x' }]);
    const del = smp(live(), { spec: { strategy: { $patch: 'delete' } } });
    t.same(del.spec.strategy, {});
  });
});

t.test('other kinds use their own merge keys', async (t) => {
  const svc = { metadata: { name: 's' }, spec: { ports: [{ port: 80, targetPort: 8080 }, { port: 443 }] } };
  const r = smp(svc, { spec: { ports: [{ port: 80, targetPort: 9090 }] } }, { group: '', version: 'v1', kind: 'Service' });
  t.same(r.spec.ports, [{ port: 80, targetPort: 9090 }, { port: 443 }]);
  const node = { metadata: { name: 'n' }, spec: {}, status: { conditions: [{ type: 'Ready', status: 'False' }, { type: 'MemoryPressure', status: 'False' }] } };
  const n = smp(node, { status: { conditions: [{ type: 'Ready', status: 'True' }] } }, { group: '', version: 'v1', kind: 'Node' });
  t.same(n.status.conditions, [{ type: 'Ready', status: 'True' }, { type: 'MemoryPressure', status: 'False' }]);
  const cordon = smp(node, { spec: { unschedulable: true } }, { group: '', version: 'v1', kind: 'Node' });
  t.equal(cordon.spec.unschedulable, true);
  const pod = { metadata: { name: 'p', ownerReferences: [{ uid: 'u1', name: 'rs' }] }, spec: { containers: [{ name: 'c', image: 'i' }] } };
  const p = smp(pod, { metadata: { ownerReferences: [{ uid: 'u2', name: 'rs2' }] } }, { group: '', version: 'v1', kind: 'Pod' });
  t.same(p.metadata.ownerReferences.map((o: any) => o.uid).sort(), ['u1', 'u2']);
});

t.test('errors', async (t) => {
  const crd = { group: 'example.com', version: 'v1', kind: 'Widget' };
  t.throws(() => smp({ metadata: {} }, { spec: {} }, crd), { reason: 'UnsupportedMediaType', code: 415 });
  t.throws(() => applyPatch('application/strategic-merge-patch+json', live(), Buffer.from('{bad'), { gvk: deploy }),
    { reason: 'BadRequest', message: /invalid JSON/ });
  t.throws(() => smp(live(), [1, 2]), { reason: 'BadRequest', message: /must be a JSON object/ });
  t.throws(() => smp(live(), { spec: { template: { spec: { containers: [{ image: 'x' }] } } } }),
    { reason: 'BadRequest', message: /does not contain declared merge key: name/ });
  t.throws(() => smp(live(), { spec: { template: { spec: { containers: [{ $patch: 'explode', name: 'web' }] } } } }),
    { reason: 'BadRequest', message: /unknown patch type/ });
  t.throws(() => smp(live(), { spec: { $bogus: 1 } }), { reason: 'BadRequest', code: 400 });
  const e = (() => { try { smp(live(), { metadata: { finalizers: [['x']] } }); } catch (err) { return err; } })();
  t.ok(e instanceof ApiError && e.code === 400, 'lists of lists are rejected');
});

t.test('the current object is never mutated', async (t) => {
  const cur = live();
  const before = JSON.stringify(cur);
  smp(cur, { metadata: { labels: { tier: null } }, spec: { template: { spec: { containers: [{ name: 'web', image: 'z' }] } } } });
  t.equal(JSON.stringify(cur), before);
});
