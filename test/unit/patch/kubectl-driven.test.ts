// The real kubectl 1.32 drives the patch and apply modules through a tiny in-memory server on loopback: the
// patches are whatever kubectl computes (client-side apply's 3-way strategic merge patch, kubectl patch/label,
// server-side apply), and the stored result is checked.
import t, { type Test } from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMiniApiserver } from './fixtures/mini-apiserver.ts';

const server = await startMiniApiserver();
const dir = await mkdtemp(join(tmpdir(), 'kts-patch-kubectl-'));
t.teardown(async () => { await server.close(); await rm(dir, { recursive: true, force: true }); });

const manifest = (file: string, text: string) => writeFile(join(dir, file), text).then(() => join(dir, file));
const ok = async (t: Test, args: string[]) => {
  const res = await server.kubectl(args);
  t.equal(res.code, 0, `kubectl ${args.join(' ')}: ${res.stderr}`);
  return res;
};

const v1 = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web, tier: fe}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "nginx:1", ports: [{containerPort: 80}, {containerPort: 443}], env: [{name: A, value: "1"}]}
      - {name: side, image: busybox}
      volumes: [{name: data, emptyDir: {}}]
`;
const v2 = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  strategy: {type: Recreate}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "nginx:2", ports: [{containerPort: 80}], env: [{name: A, value: "1"}, {name: B, value: "2"}]}
      volumes: [{name: data, configMap: {name: cm}}]
`;

t.test('client-side apply: create, then the 3-way strategic merge patch kubectl computes', async (t) => {
  await ok(t, ['apply', '-f', await manifest('v1.yaml', v1), '--validate=false']);
  const before = server.requests.length;
  await ok(t, ['apply', '-f', await manifest('v2.yaml', v2), '--validate=false']);
  const patch = server.requests.slice(before).find((r) => r.method === 'PATCH');
  t.equal(patch?.contentType, 'application/strategic-merge-patch+json');
  const sent = patch?.body.toString() ?? '';
  for (const directive of ['$retainKeys', '$setElementOrder/containers', '"$patch":"delete"']) t.ok(sent.includes(directive), `kubectl sent ${directive}`);
  const live = server.store.get('deployments/default/web');
  t.same(live.metadata.labels, { app: 'web' });
  t.same(live.spec.strategy, { type: 'Recreate' });
  t.equal(live.spec.replicas, 3);
  t.same(live.spec.template.spec.containers, [
    { env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }], image: 'nginx:2', name: 'web', ports: [{ containerPort: 80 }] },
  ]);
  t.same(live.spec.template.spec.volumes, [{ name: 'data', configMap: { name: 'cm' } }]);
  t.match(live.metadata.managedFields, [{ manager: 'kubectl-client-side-apply', operation: 'Update' }]);
});

t.test('kubectl patch (strategic, merge, json), label and annotate', async (t) => {
  await ok(t, ['patch', 'deployment', 'web', '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"web","env":[{"name":"C","value":"3"}]}]}}}}']);
  let live = server.store.get('deployments/default/web');
  t.same(live.spec.template.spec.containers[0].env.map((e: { name: string }) => e.name).sort(), ['A', 'B', 'C']);
  await ok(t, ['patch', 'deployment', 'web', '--type=merge', '-p', '{"spec":{"paused":true}}']);
  await ok(t, ['patch', 'deployment', 'web', '--type=json', '-p', '[{"op":"replace","path":"/spec/replicas","value":7}]']);
  await ok(t, ['label', 'deployment', 'web', 'team=blue']);
  await ok(t, ['annotate', 'deployment', 'web', 'note=hello']);
  live = server.store.get('deployments/default/web');
  t.equal(live.spec.paused, true);
  t.equal(live.spec.replicas, 7);
  t.equal(live.metadata.labels.team, 'blue');
  t.equal(live.metadata.annotations.note, 'hello');
  const managers = live.metadata.managedFields.map((e: { manager: string }) => e.manager);
  t.ok(managers.includes('kubectl-label') && managers.includes('kubectl-patch'), `managers recorded: ${managers}`);
  const failed = await server.kubectl(['patch', 'deployment', 'web', '--type=json', '-p', '[{"op":"test","path":"/spec/replicas","value":1}]']);
  t.equal(failed.code, 1);
  t.match(failed.stderr, /testing value \/spec\/replicas failed/);
  const missing = await server.kubectl(['patch', 'deployment', 'nope', '--type=merge', '-p', '{"spec":{}}']);
  t.match(missing.stderr, /deployments.apps "nope" not found/);
});

t.test('kubectl set image|env|resources and rollout restart send strategic merge patches that apply', async (t) => {
  await ok(t, ['set', 'image', 'deployment/web', 'web=nginx:3']);
  await ok(t, ['set', 'env', 'deployment/web', 'FOO=bar', 'A-']);
  await ok(t, ['set', 'resources', 'deployment', 'web', '--limits=cpu=200m,memory=64Mi']);
  await ok(t, ['rollout', 'resume', 'deployment/web']);
  await ok(t, ['rollout', 'restart', 'deployment/web']);
  const live = server.store.get('deployments/default/web');
  const web = live.spec.template.spec.containers.find((c: { name: string }) => c.name === 'web');
  t.equal(web.image, 'nginx:3');
  t.same(web.env.map((e: { name: string }) => e.name).sort(), ['B', 'C', 'FOO'], 'A removed, FOO added');
  t.same(web.resources.limits, { cpu: '200m', memory: '64Mi' });
  t.match(live.spec.template.metadata.annotations['kubectl.kubernetes.io/restartedAt'], /^\d{4}-/);
  t.notOk(live.spec.paused, 'resumed');
  t.ok(live.metadata.managedFields.some((e: { manager: string }) => e.manager === 'kubectl-rollout'));
});

t.test('server-side apply: create, conflict with another manager, force', async (t) => {
  const cm = (value: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: "${value}", color: blue}\n`;
  const res = await ok(t, ['apply', '--server-side', '-f', await manifest('cm1.yaml', cm('fast')), '--validate=false']);
  t.match(res.stdout, /configmap\/settings serverside-applied/);
  let live = server.store.get('configmaps/default/settings');
  t.match(live.metadata.managedFields, [{ manager: 'kubectl', operation: 'Apply' }]);
  await ok(t, ['patch', 'configmap', 'settings', '--type=merge', '-p', '{"data":{"mode":"slow"}}', '--field-manager=ops']);
  const conflict = await server.kubectl(['apply', '--server-side', '-f', await manifest('cm2.yaml', cm('turbo')), '--validate=false']);
  t.equal(conflict.code, 1);
  t.match(conflict.stderr, /conflict with "ops" using v1: \.data\.mode/);
  t.match(conflict.stderr, /--force-conflicts/);
  await ok(t, ['apply', '--server-side', '--force-conflicts', '-f', join(dir, 'cm2.yaml'), '--validate=false']);
  live = server.store.get('configmaps/default/settings');
  t.same(live.data, { mode: 'turbo', color: 'blue' });
  t.notOk(live.metadata.managedFields.some((e: { manager: string }) => e.manager === 'ops'), 'ops lost its only field');
  await ok(t, ['apply', '--server-side', '-f', await manifest('cm3.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: turbo}\n'), '--validate=false']);
  t.same(server.store.get('configmaps/default/settings').data, { mode: 'turbo' }, 'a field dropped from the config is removed');
});
