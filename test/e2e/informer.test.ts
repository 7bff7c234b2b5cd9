// @kubernetes/client-node's informer against the apiserver: initial list, watch events, and a relist after the
// server answers a resumed watch with a 410 Expired (the watch cache has moved past the informer's resourceVersion).
import * as k8s from '@kubernetes/client-node';
import t from 'tap';
import { startTestCluster } from '../../control/apiserver/testing/server.ts';

// a tiny watch cache, so a little churn elsewhere pushes the informer's resourceVersion out of the window
const c = await startTestCluster({ watchCacheSize: 5 });
t.teardown(() => c.stop());

const post = async (path: string, obj: object) => {
  const r = await c.request(path, { method: 'POST', body: JSON.stringify(obj), headers: { 'content-type': 'application/json' } });
  if (r.status !== 201) throw new Error(`POST ${path}: ${r.status} ${r.text}`);
  return r.json();
};
const pod = (name: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } });

async function podLists(): Promise<number> {
  const text = (await c.request('/metrics')).text;
  let n = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('apiserver_request_total{') && line.includes('verb="LIST"') && line.includes('resource="pods"')) n += Number(line.split(' ').pop());
  }
  return n;
}

function waitFor(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      if (check()) return resolve();
      if (Date.now() - started > ms) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 25);
    };
    tick();
  });
}

t.test('informer lists, watches, and relists after 410 Expired', async (t) => {
  await post('/api/v1/namespaces', { metadata: { name: 'inf' } });
  await post('/api/v1/namespaces', { metadata: { name: 'churn' } });
  await post('/api/v1/namespaces/inf/pods', pod('a1'));

  const kc = new k8s.KubeConfig();
  kc.loadFromFile(c.kubeconfigPath);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const informer = k8s.makeInformer(kc, '/api/v1/namespaces/inf/pods', () => core.listNamespacedPod({ namespace: 'inf' }));
  const seen = new Set<string>();
  const errors: unknown[] = [];
  informer.on('add', (p) => seen.add(`add:${p.metadata?.name}`));
  informer.on('update', (p) => seen.add(`update:${p.metadata?.name}:${p.metadata?.labels?.v ?? ''}`));
  informer.on('delete', (p) => seen.add(`delete:${p.metadata?.name}`));
  informer.on('error', (e) => errors.push(e));
  await informer.start();
  t.teardown(() => informer.stop());
  await waitFor(() => seen.has('add:a1'), 'the initial list');

  await post('/api/v1/namespaces/inf/pods', pod('a2'));
  await waitFor(() => seen.has('add:a2'), 'a watch event');
  const patch = await c.request('/api/v1/namespaces/inf/pods/a2', { method: 'PATCH', body: '{"metadata":{"labels":{"v":"1"}}}', headers: { 'content-type': 'application/merge-patch+json' } });
  t.equal(patch.status, 200);
  await waitFor(() => seen.has('update:a2:1'), 'an update event');

  // churn in another namespace: the informer's watch sees none of it, so its resourceVersion falls out of the cache
  for (let i = 0; i < 15; i++) await post('/api/v1/namespaces/churn/pods', pod(`x${i}`));
  const listsBefore = await podLists();
  c.server.closeWatches(); // the informer reconnects from its old resourceVersion -> 410 -> relist
  let lists = listsBefore;
  for (let i = 0; i < 400 && lists <= listsBefore; i++) {
    await new Promise((r) => setTimeout(r, 50));
    lists = await podLists();
  }
  t.ok(lists > listsBefore, `the informer listed again (${listsBefore} -> ${lists} pod LISTs)`);

  await post('/api/v1/namespaces/inf/pods', pod('a3'));
  await waitFor(() => seen.has('add:a3'), 'events after the relist');
  const del = await c.request('/api/v1/namespaces/inf/pods/a1', { method: 'DELETE' });
  t.equal(del.status, 200);
  await waitFor(() => seen.has('delete:a1'), 'a delete event');
  t.same(informer.list('inf').map((p) => p.metadata?.name).sort(), ['a2', 'a3'], 'the cache matches the server');
  t.same(errors, [], 'no informer errors');
});
