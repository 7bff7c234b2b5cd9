// REST and watch semantics over HTTP against a real etcd: writes, status rules, deletion, pagination, watches.
import https from 'node:https';
import t from 'tap';
import { startTestCluster } from '../../../control/apiserver/testing/server.ts';

const c = await startTestCluster({ bookmarkIntervalMs: 200, watchCacheSize: 50 });
t.teardown(() => c.stop());
const json = { 'content-type': 'application/json' };
const post = (path: string, obj: unknown, query = '') => c.request(path + query, { method: 'POST', body: JSON.stringify(obj), headers: json });
const put = (path: string, obj: unknown) => c.request(path, { method: 'PUT', body: JSON.stringify(obj), headers: json });
const patch = (path: string, p: unknown, type = 'application/merge-patch+json') => c.request(path, { method: 'PATCH', body: JSON.stringify(p), headers: { 'content-type': type } });
const pod = (name: string, extra: Record<string, unknown> = {}) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'busybox:1.36', resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '100m', memory: '64Mi' } } }], ...extra } });
const P = '/api/v1/namespaces/default/pods';

/** Reads a watch stream until `until` says stop or the server ends it; returns the events. */
function watch(path: string, until: (events: any[]) => boolean = () => false, accept?: string): Promise<{ status: number; events: any[] }> {
  return new Promise((resolve, reject) => {
    const agent = new https.Agent({ ca: c.caPem, cert: c.admin.certPem, key: c.admin.keyPem });
    const req = https.request(`${c.url}${path}`, { agent, headers: accept ? { accept } : {} }, (res) => {
      const events: any[] = [];
      let buf = '';
      const done = () => { req.destroy(); agent.destroy(); resolve({ status: res.statusCode ?? 0, events }); };
      res.on('data', (d: Buffer) => {
        buf += d.toString();
        let i;
        while ((i = buf.indexOf('\n')) >= 0) { events.push(JSON.parse(buf.slice(0, i))); buf = buf.slice(i + 1); }
        if (until(events)) done();
      });
      res.on('end', done);
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('create: generateName, server fields, defaults, QoS, 409 on a clash, 404 for a missing namespace', async (t) => {
  const r = await post(P, { ...pod(''), metadata: { generateName: 'gen-' } });
  t.equal(r.status, 201);
  const o = r.json();
  t.match(o.metadata.name, /^gen-[a-z0-9]{5}$/);
  t.match(o.metadata.uid, /^[0-9a-f-]{36}$/);
  t.ok(o.metadata.creationTimestamp && o.metadata.resourceVersion);
  t.match(o.spec, { restartPolicy: 'Always', dnsPolicy: 'ClusterFirst', terminationGracePeriodSeconds: 30, schedulerName: 'default-scheduler' });
  t.equal(o.status.qosClass, 'Guaranteed');
  t.equal(o.status.phase, 'Pending');
  t.equal((await post(P, pod('dup'))).status, 201);
  const again = await post(P, pod('dup'));
  t.equal(again.status, 409);
  t.equal(again.json().reason, 'AlreadyExists');
  const missing = await post('/api/v1/namespaces/nowhere/pods', pod('x'));
  t.equal(missing.status, 404);
  t.equal(missing.json().message, 'namespaces "nowhere" not found');
  const dry = await post(P, pod('dry'), '?dryRun=All');
  t.equal(dry.status, 201);
  t.equal((await c.request(`${P}/dry`)).status, 404, 'dry run stored nothing');
});

t.test('update: stale resourceVersion is a 409 Conflict; spec writes keep status and the reverse', async (t) => {
  const d = (await post('/apis/apps/v1/namespaces/default/deployments', {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' },
    spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } },
  })).json();
  const D = '/apis/apps/v1/namespaces/default/deployments/d';
  const st = await put(`${D}/status`, { ...d, spec: { ...d.spec, replicas: 9 }, status: { replicas: 4, observedGeneration: 1 } });
  t.equal(st.status, 200);
  t.equal(st.json().spec.replicas, 1, 'status write ignores spec');
  t.equal(st.json().status.replicas, 4);
  const stale = await put(D, { ...d, spec: { ...d.spec, replicas: 2 } });
  t.equal(stale.status, 409);
  t.match(stale.json().message, /the object has been modified/);
  const cur = (await c.request(D)).json();
  const up = await put(D, { ...cur, spec: { ...cur.spec, replicas: 3 }, status: { replicas: 99 } });
  t.equal(up.status, 200);
  t.equal(up.json().status.replicas, 4, 'spec write ignores status');
  t.equal(up.json().metadata.generation, 2, 'generation follows spec changes');
  const scale = await c.request(`${D}/scale`);
  t.match(scale.json(), { kind: 'Scale', apiVersion: 'autoscaling/v1', spec: { replicas: 3 }, status: { replicas: 4, selector: 'a=b' } });
  const bad = await patch(D, { spec: { replicas: -1 } });
  t.equal(bad.status, 422);
  t.match(bad.json().details.causes, [{ field: 'spec.replicas', reason: 'FieldValueInvalid' }]);
});

t.test('pods: binding, graceful deletion on a node, immediate deletion without one', async (t) => {
  await post(P, pod('bound'));
  const bind = await post(`${P}/bound/binding`, { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'bound' }, target: { kind: 'Node', name: 'n1' } });
  t.equal(bind.status, 201);
  const bound = (await c.request(`${P}/bound`)).json();
  t.equal(bound.spec.nodeName, 'n1');
  t.match(bound.status.conditions, [{ type: 'PodScheduled', status: 'True' }]);
  t.equal((await post(`${P}/bound/binding`, { target: { name: 'n2' } })).status, 409, 'already bound');
  const del = await c.request(`${P}/bound`, { method: 'DELETE' });
  t.equal(del.status, 200);
  t.ok(del.json().metadata.deletionTimestamp, 'a pod on a node waits for its kubelet');
  t.equal(del.json().metadata.deletionGracePeriodSeconds, 30);
  const now = await c.request(`${P}/bound`, { method: 'DELETE', body: '{"gracePeriodSeconds":0}', headers: json });
  t.equal(now.status, 200);
  t.equal((await c.request(`${P}/bound`)).status, 404, 'grace 0 removes it');
  await c.request(`${P}/dup`, { method: 'DELETE' });
  t.equal((await c.request(`${P}/dup`)).status, 404, 'an unscheduled pod goes at once');
  const changeSpec = await patch(`${P}/${(await c.request(P)).json().items[0].metadata.name}`, { spec: { restartPolicy: 'Never' } });
  t.equal(changeSpec.status, 422, 'pod spec is immutable apart from images');
});

t.test('lists: limit and continue, selectors, 400 on unknown field labels', async (t) => {
  for (let i = 0; i < 7; i++) await post('/api/v1/namespaces/default/configmaps', { metadata: { name: `cm${i}`, labels: { n: String(i % 2) } } });
  const names: string[] = [];
  let cont = '';
  let pages = 0;
  do {
    const r = (await c.request(`/api/v1/namespaces/default/configmaps?limit=3${cont ? `&continue=${cont}` : ''}`)).json();
    names.push(...r.items.map((i: any) => i.metadata.name));
    cont = r.metadata.continue ?? '';
    pages++;
  } while (cont);
  t.same(names, ['cm0', 'cm1', 'cm2', 'cm3', 'cm4', 'cm5', 'cm6']);
  t.equal(pages, 3);
  const odd = (await c.request('/api/v1/namespaces/default/configmaps?labelSelector=n%3D1')).json();
  t.same(odd.items.map((i: any) => i.metadata.name), ['cm1', 'cm3', 'cm5']);
  const byName = (await c.request('/api/v1/configmaps?fieldSelector=metadata.name%3Dcm4')).json();
  t.same(byName.items.map((i: any) => i.metadata.name), ['cm4'], 'cluster-wide list with a field selector');
  const bad = await c.request('/api/v1/namespaces/default/configmaps?fieldSelector=spec.nope%3D1');
  t.equal(bad.status, 400);
  t.match(bad.json().message, /"spec.nope" is not a known field selector/);
  const table = (await c.request('/api/v1/namespaces/default/configmaps?limit=2', { headers: { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' } })).json();
  t.equal(table.kind, 'Table');
  t.equal(table.rows.length, 2);
  t.ok(table.metadata.continue);
});

t.test('services: ClusterIP and NodePort allocation, clashes are Invalid', async (t) => {
  const svc = (name: string, spec: Record<string, unknown>) => ({ metadata: { name }, spec: { ports: [{ port: 80 }], selector: { app: 'x' }, ...spec } });
  const a = (await post('/api/v1/namespaces/default/services', svc('a', { type: 'NodePort' }))).json();
  t.match(a.spec.clusterIP, /^10\./);
  t.ok(a.spec.ports[0].nodePort >= 30000);
  t.equal(a.spec.ports[0].targetPort, 80);
  t.equal(a.spec.sessionAffinity, 'None');
  const clash = await post('/api/v1/namespaces/default/services', svc('b', { clusterIP: a.spec.clusterIP }));
  t.equal(clash.status, 422);
  t.match(clash.json().message, /already allocated/);
  const outside = await post('/api/v1/namespaces/default/services', svc('c', { clusterIP: '192.168.0.1' }));
  t.equal(outside.status, 422);
  t.equal((await post('/api/v1/namespaces/default/services', svc('Bad', {}))).status, 422, 'DNS-1035 names');
});

t.test('an object over etcd\'s request limit is a 413, not a 500', async (t) => {
  const big = await post('/api/v1/namespaces/default/configmaps', { metadata: { name: 'big' }, data: { k: 'x'.repeat(2 * 1024 * 1024) } });
  t.equal(big.status, 413);
  t.equal(big.json().reason, 'RequestEntityTooLarge');
});

t.test('pod priority comes from its PriorityClass', async (t) => {
  const crit = await post(P, pod('crit', { priorityClassName: 'system-node-critical' }));
  t.equal(crit.status, 201);
  t.equal(crit.json().spec.priority, 2000001000);
  t.equal(crit.json().spec.preemptionPolicy, 'PreemptLowerPriority');
  const missing = await post(P, pod('nope', { priorityClassName: 'no-such-class' }));
  t.equal(missing.status, 403);
  t.match(missing.json().message, /no PriorityClass with name no-such-class was found/);
  t.equal((await post(P, pod('plain'))).json().spec.priority, 0);
});

t.test('namespaces: deletion empties the namespace, then removes it; system namespaces stay', async (t) => {
  t.equal((await post('/api/v1/namespaces', { metadata: { name: 'doomed' } })).status, 201);
  t.equal((await post('/api/v1/namespaces/doomed/configmaps', { metadata: { name: 'c' } })).status, 201);
  t.equal((await post('/api/v1/namespaces/doomed/pods', pod('p'))).status, 201);
  const del = await c.request('/api/v1/namespaces/doomed', { method: 'DELETE' });
  t.equal(del.status, 200);
  t.equal(del.json().status.phase, 'Terminating');
  const blocked = await post('/api/v1/namespaces/doomed/configmaps', { metadata: { name: 'late' } });
  t.ok(blocked.status === 403 || blocked.status === 404, 'no new content in a terminating namespace');
  for (let i = 0; i < 100 && (await c.request('/api/v1/namespaces/doomed')).status !== 404; i++) await new Promise((r) => setTimeout(r, 100));
  t.equal((await c.request('/api/v1/namespaces/doomed')).status, 404, 'the namespace is gone');
  t.equal((await c.request('/api/v1/namespaces/doomed/configmaps')).json().items.length, 0, 'and so is its content');
  t.equal((await c.request('/api/v1/namespaces/default', { method: 'DELETE' })).status, 403);
});

t.test('watch: replay from a resourceVersion, selectors, bookmarks, timeoutSeconds, tables, 410 as an event', async (t) => {
  const start = (await c.request('/api/v1/namespaces/default/configmaps')).json().metadata.resourceVersion;
  await post('/api/v1/namespaces/default/configmaps', { metadata: { name: 'w1', labels: { w: 'yes' } } });
  await patch('/api/v1/namespaces/default/configmaps/w1', { data: { a: 'b' } });
  await c.request('/api/v1/namespaces/default/configmaps/w1', { method: 'DELETE' });
  const replay = await watch(`/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${start}&labelSelector=w%3Dyes&timeoutSeconds=1`);
  t.equal(replay.status, 200);
  t.same(replay.events.map((e) => e.type), ['ADDED', 'MODIFIED', 'DELETED'], 'every change after the list, then a clean end at the timeout');
  t.ok(replay.events.every((e) => e.object.metadata.resourceVersion), 'every event carries a resourceVersion');
  const bm = await watch(`/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${start}&allowWatchBookmarks=true&fieldSelector=metadata.name%3Dnone`, (ev) => ev.length > 0);
  t.equal(bm.events[0].type, 'BOOKMARK');
  t.match(bm.events[0].object, { kind: 'ConfigMap', apiVersion: 'v1', metadata: { resourceVersion: /^\d+$/ } });
  const tbl = await watch('/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1', (ev) => ev.length >= 2, 'application/json;as=Table;v=v1;g=meta.k8s.io');
  t.equal(tbl.events[0].object.kind, 'Table');
  t.ok(tbl.events[0].object.columnDefinitions.length > 0, 'columns in the first event');
  t.same(tbl.events[1].object.columnDefinitions, [], 'not repeated later');
  for (let i = 0; i < 120; i++) await post('/api/v1/namespaces/default/configmaps', { metadata: { name: `churn${i}` } });
  const old = await watch(`/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${start}`);
  t.equal(old.status, 200);
  t.match(old.events, [{ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } }]);
});
