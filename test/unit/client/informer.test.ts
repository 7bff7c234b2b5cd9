import t from 'tap';
import type { Test } from 'tap';
import type { V1Pod } from '@kubernetes/client-node';
import { RestClient } from '../../../client/rest.ts';
import { Informer } from '../../../client/informer.ts';
import type { InformerOptions } from '../../../client/informer.ts';
import { watch } from '../../../client/watch.ts';
import { FakeApiServer } from './fixtures/fake-apiserver.ts';
import { until } from '../../support/until.ts';

const PODS = 'v1/pods';
const podsRef = { version: 'v1', resource: 'pods' };
const pod = (name: string, node = '', labels: Record<string, string> = {}) =>
  ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'ns', labels }, spec: { nodeName: node, containers: [] } });

/** Resolves when pred() holds; checks after every event and on a short poll (no timing assertions). */

interface Log { events: string[]; errors: { err: unknown; phase: string }[] }

async function setup(t: Test, opts: InformerOptions<V1Pod> = {}) {
  const api = new FakeApiServer();
  const server = await api.start();
  const client = new RestClient({ server, qps: 0 });
  const log: Log = { events: [], errors: [] };
  const inf = new Informer<V1Pod>(client, podsRef, {
    backoffBaseMs: 5, backoffMaxMs: 20, onError: (err, phase) => log.errors.push({ err, phase }), ...opts,
  });
  inf.addEventHandler({
    onAdd: (p) => log.events.push(`add ${p.metadata!.name}`),
    onUpdate: (o, n) => log.events.push(`update ${n.metadata!.name} ${o.metadata!.resourceVersion}->${n.metadata!.resourceVersion}`),
    onDelete: (p) => log.events.push(`delete ${p.metadata!.name}`),
  });
  t.teardown(async () => {
    await inf.stop();
    client.close();
    await api.close();
  });
  return { api, client, inf, log };
}

t.test('lists, syncs, then delivers adds, updates and deletes from the watch', async (t) => {
  const { api, inf, log } = await setup(t, { indexers: { node: (p) => (p.spec?.nodeName ? [p.spec.nodeName] : []) } });
  api.put(PODS, pod('a', 'n1'));
  api.put(PODS, pod('b', 'n2'));
  t.notOk(inf.hasSynced());
  inf.start();
  await inf.waitForSync();
  t.ok(inf.hasSynced());
  t.same(log.events, ['add a', 'add b']);
  t.equal(inf.lastSyncResourceVersion, api.resourceVersion, 'watches from the list RV');
  await until('watch open', () => api.openWatches() === 1, 5_000);
  const w = api.watchRequests()[0]!.url.searchParams;
  t.equal(w.get('resourceVersion'), api.resourceVersion);
  t.equal(w.get('allowWatchBookmarks'), 'true');
  t.ok(Number(w.get('timeoutSeconds')) >= 300, 'asks the server to end the watch itself');

  const a1 = inf.store.getByName('ns', 'a')!;
  const a2 = api.put(PODS, { ...pod('a', 'n2') });
  api.put(PODS, pod('c', 'n1'));
  api.remove(PODS, 'ns', 'b');
  await until('three more events', () => log.events.length === 5, 5_000);
  t.same(log.events.slice(2), [`update a ${a1.metadata!.resourceVersion}->${a2.metadata.resourceVersion}`, 'add c', 'delete b']);
  t.same(inf.store.keys().sort(), ['ns/a', 'ns/c']);
  t.same(inf.store.byIndex('node', 'n2').map((p) => p.metadata!.name), ['a'], 'index follows the update');
  t.same(inf.store.byIndex('node', 'n1').map((p) => p.metadata!.name), ['c']);
  t.same(inf.store.byIndex('namespace', 'ns').length, 2);
  t.equal(inf.lastSyncResourceVersion, api.resourceVersion);
  t.equal(inf.stats.lists, 1);
  t.same(log.errors, []);
});

t.test('a closed stream is resumed from the last RV without a relist', async (t) => {
  const { api, inf, log } = await setup(t);
  api.put(PODS, pod('a'));
  inf.start();
  await inf.waitForSync();
  await until('watch open', () => api.openWatches() === 1, 5_000);
  api.put(PODS, pod('b'));
  await until('b added', () => log.events.length === 2, 5_000);
  const lastRv = api.resourceVersion;
  api.closeWatches();
  await until('re-watch', () => api.watchRequests().length === 2 && api.openWatches() === 1, 5_000);
  t.equal(api.watchRequests()[1]!.url.searchParams.get('resourceVersion'), lastRv);
  t.equal(inf.stats.lists, 1, 'no relist');
  api.put(PODS, pod('c'));
  await until('c added', () => log.events.length === 3, 5_000);
  t.same(log.events, ['add a', 'add b', 'add c']);
});

t.test('bookmarks move the resume point', async (t) => {
  const { api, inf, log } = await setup(t);
  inf.start();
  await inf.waitForSync();
  await until('watch open', () => api.openWatches() === 1, 5_000);
  // Changes in another collection advance the RV without events on this watch.
  api.put('v1/configmaps', { metadata: { name: 'x', namespace: 'ns' } });
  api.put('v1/configmaps', { metadata: { name: 'y', namespace: 'ns' } });
  api.bookmark();
  await until('bookmark applied', () => inf.lastSyncResourceVersion === api.resourceVersion, 5_000);
  api.closeWatches();
  await until('re-watch', () => api.watchRequests().length === 2, 5_000);
  t.equal(api.watchRequests()[1]!.url.searchParams.get('resourceVersion'), api.resourceVersion);
  t.same(log.events, [], 'bookmarks are not events');
});

for (const mode of ['ERROR event', 'HTTP 410'] as const) {
  t.test(`410 Expired (${mode}) relists and delivers what changed in the gap`, async (t) => {
    const { api, inf, log } = await setup(t);
    api.expiredAsHttp = mode === 'HTTP 410';
    api.put(PODS, pod('a'));
    api.put(PODS, pod('b'));
    inf.start();
    await inf.waitForSync();
    await until('watch open', () => api.openWatches() === 1, 5_000);
    let bNew = '';
    // Changes the watch never sees, then history is compacted past our RV.
    api.silently(() => {
      api.remove(PODS, 'ns', 'a');
      bNew = api.put(PODS, pod('b', 'n9')).metadata.resourceVersion;
      api.put(PODS, pod('c'));
    });
    api.closeWatches();
    await until('relisted and watching again', () => inf.stats.lists === 2 && api.openWatches() === 1, 5_000);
    t.equal(inf.stats.relistsOn410, 1);
    const after = log.events.slice(2);
    t.ok(after.includes('delete a'), 'object gone in the gap is deleted');
    t.ok(after.includes('add c'), 'object created in the gap is added');
    t.ok(after.some((e) => e.startsWith('update b ') && e.endsWith(`->${bNew}`)), 'object changed in the gap is updated');
    t.equal(after.length, 3);
    t.same(inf.store.keys().sort(), ['ns/b', 'ns/c']);
    t.equal(inf.store.getByName('ns', 'b')!.spec!.nodeName, 'n9');
    t.same(log.errors, [], 'a 410 is routine, not an error');
    const lastWatch = api.watchRequests().at(-1)!;
    t.equal(lastWatch.url.searchParams.get('resourceVersion'), api.resourceVersion, 'watches from the new list RV');
  });
}

t.test('an ERROR event other than 410 is reported and the watch resumes', async (t) => {
  const { api, inf, log } = await setup(t);
  api.put(PODS, pod('a'));
  api.errorEventOnNextWatch(500, 'InternalError', 'etcd hiccup');
  inf.start();
  await inf.waitForSync();
  await until('error reported and watching again', () => log.errors.length === 1 && api.openWatches() === 1, 5_000);
  t.match((log.errors[0]!.err as Error).message, /etcd hiccup/);
  t.equal(log.errors[0]!.phase, 'watch');
  api.put(PODS, pod('b'));
  await until('b added after recovery', () => log.events.includes('add b'), 5_000);
  t.same(inf.store.keys().sort(), ['ns/a', 'ns/b']);
});

t.test('list and watch failures back off and retry; the informer never stops', async (t) => {
  const { api, inf, log } = await setup(t);
  api.put(PODS, pod('a'));
  api.failNext('GET', '/api/v1/pods', 500, { watch: false });
  api.failNext('GET', '/api/v1/pods', 503, { watch: false });
  inf.start();
  await inf.waitForSync();
  t.same(log.errors.map((e) => e.phase), ['list', 'list']);
  t.equal(inf.stats.lists, 3);
  await until('watching', () => api.openWatches() === 1, 5_000);
  api.failNext('GET', '/api/v1/pods', 500, { watch: true });
  api.closeWatches();
  await until('watch error reported, watching again', () => log.errors.length === 3 && api.openWatches() === 1, 5_000);
  t.equal(log.errors[2]!.phase, 'watch');
  api.put(PODS, pod('b'));
  await until('events flow again', () => log.events.includes('add b'), 5_000);
});

t.test('a throwing handler is reported and does not stop the others', async (t) => {
  const { api, inf, log } = await setup(t);
  inf.addEventHandler({ onAdd: () => { throw new Error('handler bug'); } });
  inf.start();
  await inf.waitForSync();
  api.put(PODS, pod('a'));
  api.put(PODS, pod('b'));
  await until('both delivered', () => log.events.length === 2, 5_000);
  t.same(log.events, ['add a', 'add b']);
  t.equal(log.errors.filter((e) => e.phase === 'handler').length, 2);
});

t.test('selectors reach the server; late handlers get the cache replayed; resync calls onUpdate', async (t) => {
  const { api, inf } = await setup(t, { labelSelector: 'app=web', fieldSelector: 'spec.nodeName=n1', resyncMs: 10 });
  api.put(PODS, pod('a', 'n1', { app: 'web' }));
  api.put(PODS, pod('b', 'n2', { app: 'web' }));
  api.put(PODS, pod('c', 'n1', { app: 'db' }));
  inf.start();
  await inf.waitForSync();
  const list = api.listRequests()[0]!.url.searchParams;
  t.equal(list.get('labelSelector'), 'app=web');
  t.equal(list.get('fieldSelector'), 'spec.nodeName=n1');
  await until('watching', () => api.openWatches() === 1, 5_000);
  t.equal(api.watchRequests()[0]!.url.searchParams.get('labelSelector'), 'app=web');
  t.same(inf.store.keys(), ['ns/a']);
  const late: string[] = [];
  inf.addEventHandler({ onAdd: (p) => late.push(p.metadata!.name!), onUpdate: (o, n) => { if (o === n) late.push(`resync ${n.metadata!.name}`); } });
  t.same(late, ['a'], 'replayed at registration');
  await until('resync', () => late.includes('resync a'), 5_000);
});

t.test('stop() ends the loop and rejects pending waitForSync', async (t) => {
  const { api, inf } = await setup(t);
  api.failNext('GET', '/api/v1/pods', 500, { watch: false });
  api.failNext('GET', '/api/v1/pods', 500, { watch: false });
  api.failNext('GET', '/api/v1/pods', 500, { watch: false });
  inf.start();
  const waiting = inf.waitForSync();
  await inf.stop();
  await t.rejects(waiting, /stopped before it synced/);
  t.equal(api.openWatches(), 0);
});

t.test('watch() yields parsed events and rejects a malformed line', async (t) => {
  const api = new FakeApiServer();
  const server = await api.start();
  const client = new RestClient({ server, qps: 0 });
  t.teardown(async () => {
    client.close();
    await api.close();
  });
  api.put(PODS, pod('a'));
  const ac = new AbortController();
  const seen: string[] = [];
  for await (const ev of watch<V1Pod>(client, { ...podsRef, namespace: 'ns' }, { resourceVersion: '0', signal: ac.signal })) {
    seen.push(`${ev.type} ${(ev.object as V1Pod).metadata?.name}`);
    break;
  }
  t.same(seen, ['ADDED a']);
  await until('breaking closes the stream', () => api.openWatches() === 0, 5_000);
  const { parseWatchLine } = await import('../../../client/watch.ts');
  t.throws(() => parseWatchLine('{"type":"ADDED"'), /not JSON/);
  t.throws(() => parseWatchLine('{"type":"NOPE","object":{}}'), /not a watch event/);
});

t.test('a watch the server never ends is closed by the watchdog and resumed from the last RV', async (t) => {
  const { api, inf, log } = await setup(t, { watchTimeoutSeconds: [1, 1], watchGraceMs: 0 });
  inf.start();
  await inf.waitForSync();
  await until('watching', () => api.openWatches() === 1, 5_000);
  api.put(PODS, pod('a'));
  await until('a added', () => log.events.length === 1, 5_000);
  const rv = api.resourceVersion;
  // The fake ignores timeoutSeconds, like a peer that vanished: only the client can end this stream.
  await until('second watch', () => api.watchRequests().length === 2, 5_000);
  t.equal(inf.stats.watchdogCloses, 1);
  t.equal(api.watchRequests()[1]!.url.searchParams.get('resourceVersion'), rv);
  t.equal(inf.stats.lists, 1, 'no relist');
  t.same(log.errors, []);
});

t.test('InformerFactory shares one informer per collection and selectors', async (t) => {
  const { InformerFactory } = await import('../../../client/factory.ts');
  const api = new FakeApiServer();
  const server = await api.start();
  const client = new RestClient({ server, qps: 0 });
  const f = new InformerFactory(client, { onError: () => {} });
  t.teardown(async () => {
    await f.stop();
    client.close();
    await api.close();
  });
  api.put(PODS, pod('a', 'n1'));
  const byNode = (p: V1Pod) => [p.spec?.nodeName ?? ''];
  const p1 = f.informerFor<V1Pod>(podsRef, { indexers: { node: byNode } });
  const p2 = f.informerFor<V1Pod>(podsRef, { indexers: { node: byNode } });
  const other = f.informerFor<V1Pod>(podsRef, { fieldSelector: 'spec.nodeName=n2' });
  t.equal(p1, p2, 'same collection: same informer');
  t.not(p1, other, 'different selector: its own informer');
  f.start();
  await f.waitForSync();
  t.same(p1.store.byIndex('node', 'n1').map((p) => p.metadata!.name), ['a']);
  t.equal(other.store.size, 0);
  const late = f.informerFor<V1Pod>({ version: 'v1', resource: 'configmaps' });
  await late.waitForSync();
  t.ok(late.hasSynced(), 'informers made after start() are started');
  t.equal(api.listRequests().filter((r) => r.url.pathname === '/api/v1/pods').length, 2, 'two pod lists, not three');
});

t.test('a server that expires the RV it just listed is reported, not relisted in a hot loop', async (t) => {
  const { api, inf, log } = await setup(t);
  api.expireEveryWatch = true;
  inf.start();
  await inf.waitForSync();
  await until('two reports', () => log.errors.length >= 2, 5_000);
  t.match((log.errors[0]!.err as Error).message, /410 Expired right after a list at resourceVersion \d+/);
  t.equal(log.errors[0]!.phase, 'watch');
  t.ok(inf.stats.lists >= 2, 'it keeps relisting (with backoff)');
  api.expireEveryWatch = false;
  const reports = log.errors.length;
  await until('watching again once the server recovers', () => api.openWatches() === 1, 5_000);
  api.put(PODS, pod('a'));
  await until('events flow', () => log.events.includes('add a'), 5_000);
  t.ok(log.errors.length <= reports + 1);
});
