import t from 'tap';
import type { Test } from 'tap';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { V1ConfigMap, V1Pod } from '@kubernetes/client-node';
import { ApiError } from '../../../api/errors.ts';
import { RestClient, encodeQuery, resourcePath, statusToError } from '../../../client/rest.ts';
import { TokenBucket } from '../../../client/ratelimit.ts';
import { FakeApiServer } from './fixtures/fake-apiserver.ts';

async function fake(t: Test) {
  const api = new FakeApiServer();
  const server = await api.start();
  const client = new RestClient({ server, token: 'sekret', qps: 0 });
  t.teardown(async () => {
    client.close();
    await api.close();
  });
  return { api, client };
}

const cms = { version: 'v1', resource: 'configmaps', namespace: 'default' };
const cm = (name: string, data: Record<string, string> = {}): V1ConfigMap => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data });

t.test('resourcePath builds core, group, namespaced, cluster-scoped and subresource paths', async (t) => {
  t.equal(resourcePath({ version: 'v1', resource: 'pods' }), '/api/v1/pods');
  t.equal(resourcePath({ version: 'v1', resource: 'pods', namespace: 'ns', name: 'p', subresource: 'status' }), '/api/v1/namespaces/ns/pods/p/status');
  t.equal(resourcePath({ group: 'apps', version: 'v1', resource: 'deployments', namespace: 'ns' }), '/apis/apps/v1/namespaces/ns/deployments');
  t.equal(resourcePath({ version: 'v1', resource: 'nodes', name: 'n 1' }), '/api/v1/nodes/n%201');
  t.throws(() => resourcePath({ version: 'v1', resource: 'pods', subresource: 'status' }), /needs a name/);
  t.equal(encodeQuery({ a: 'x=y', b: undefined, c: true, d: ['1', '2'], e: '' }), '?a=x%3Dy&c=true&d=1&d=2');
});

t.test('statusToError keeps reason, message, details and causes', async (t) => {
  const e = statusToError({
    kind: 'Status', status: 'Failure', reason: 'Invalid', message: 'Pod "p" is invalid: x: Required value', code: 422,
    details: { name: 'p', kind: 'Pod', causes: [{ reason: 'FieldValueRequired', field: 'x', message: 'Required value' }] },
  }, 422);
  t.ok(e instanceof ApiError);
  t.equal(e.reason, 'Invalid');
  t.equal(e.code, 422);
  t.same(e.subject, { group: undefined, kind: 'Pod', name: 'p' });
  t.same(e.causes, [{ reason: 'FieldValueRequired', field: 'x', message: 'Required value' }]);
  t.equal(statusToError(undefined, 404).reason, 'NotFound', 'reason from the HTTP code when there is no Status');
  t.equal(statusToError({ reason: 'SomethingNew' }, 503).reason, 'ServiceUnavailable', 'unknown reasons fall back to the code');
});

t.test('create, get, list, update, updateStatus, patch, delete against the wire', async (t) => {
  const { api, client } = await fake(t);
  const created = await client.create<V1ConfigMap>(cms, cm('a', { k: '1' }), { fieldManager: 'test' });
  t.equal(created.metadata?.name, 'a');
  t.ok(created.metadata?.resourceVersion, 'server assigned an RV');
  const post = api.requests.at(-1)!;
  t.equal(post.method, 'POST');
  t.equal(post.url.pathname, '/api/v1/namespaces/default/configmaps');
  t.equal(post.url.searchParams.get('fieldManager'), 'test');
  t.equal(post.headers.authorization, 'Bearer sekret');
  t.equal(post.headers['content-type'], 'application/json');

  const got = await client.get<V1ConfigMap>({ ...cms, name: 'a' });
  t.same(got.data, { k: '1' });

  await client.create(cms, cm('b'));
  const list = await client.list<V1ConfigMap>(cms, { labelSelector: 'x=y' });
  t.equal(list.items.length, 0, 'label selector passed through');
  t.equal(api.requests.at(-1)!.url.searchParams.get('labelSelector'), 'x=y');
  const all = await client.list<V1ConfigMap>(cms);
  t.same(all.items.map((i) => i.metadata?.name), ['a', 'b']);
  t.equal(all.metadata.resourceVersion, api.resourceVersion);

  const updated = await client.update<V1ConfigMap>({ ...cms, name: 'a' }, { ...got, data: { k: '2' } });
  t.same(updated.data, { k: '2' });
  t.not(updated.metadata?.resourceVersion, got.metadata?.resourceVersion);

  const stale = await client.update({ ...cms, name: 'a' }, { ...got, data: { k: '3' } }).catch((e: unknown) => e);
  t.ok(stale instanceof ApiError, 'a stale RV is an ApiError');
  t.equal((stale as ApiError).reason, 'Conflict');
  t.equal((stale as ApiError).code, 409);
  t.match((stale as ApiError).message, /the object has been modified/);

  await client.updateStatus({ ...cms, name: 'a' }, { ...updated, status: { phase: 'x' } } as V1ConfigMap);
  t.equal(api.requests.at(-1)!.url.pathname, '/api/v1/namespaces/default/configmaps/a/status');

  for (const [type, ct] of [['merge', 'application/merge-patch+json'], ['strategic', 'application/strategic-merge-patch+json']] as const) {
    const p = await client.patch<V1ConfigMap>({ ...cms, name: 'a' }, type, { data: { [type]: 'y' } });
    t.equal(p.data?.[type], 'y');
    t.equal(api.requests.at(-1)!.headers['content-type'], ct);
  }
  await client.patch({ ...cms, name: 'a' }, 'apply', { data: {} }, { fieldManager: 'me', force: true }).catch(() => {});
  const apply = api.requests.at(-1)!;
  t.equal(apply.headers['content-type'], 'application/apply-patch+yaml');
  t.equal(apply.url.searchParams.get('force'), 'true');
  t.throws(() => client.patch({ ...cms, name: 'a' }, 'apply', {}), /fieldManager/);
  t.throws(() => client.patch({ ...cms, name: 'a' }, 'json', { not: 'an array' }), /array/);

  await client.delete({ ...cms, name: 'b' }, { propagationPolicy: 'Foreground', gracePeriodSeconds: 0, dryRun: true });
  const del = api.requests.at(-1)!;
  t.equal(del.method, 'DELETE');
  t.same(JSON.parse(del.body), { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0, propagationPolicy: 'Foreground', dryRun: ['All'] });

  const missing = await client.get({ ...cms, name: 'b' }).catch((e: unknown) => e);
  t.ok(missing instanceof ApiError);
  t.equal((missing as ApiError).reason, 'NotFound');
  t.equal((missing as ApiError).subject.name, 'b');
  const dup = await client.create(cms, cm('a')).catch((e: unknown) => e);
  t.equal((dup as ApiError).reason, 'AlreadyExists');
});

t.test('listAll follows continue tokens and returns the first page RV', async (t) => {
  const { api, client } = await fake(t);
  for (let i = 0; i < 5; i++) api.put('v1/pods', { metadata: { name: `p${i}`, namespace: 'ns' } });
  const before = api.listRequests().length;
  const list = await client.listAll<V1Pod>({ version: 'v1', resource: 'pods', namespace: 'ns' }, { pageSize: 2 });
  t.same(list.items.map((p) => p.metadata?.name), ['p0', 'p1', 'p2', 'p3', 'p4']);
  t.equal(api.listRequests().length - before, 3, 'three pages of two');
  t.equal(list.metadata.resourceVersion, api.resourceVersion);
  t.notOk(list.metadata.continue);
});

t.test('a 410 on a later page switches to an unpaginated list', async (t) => {
  const { api, client } = await fake(t);
  for (let i = 0; i < 5; i++) api.put('v1/pods', { metadata: { name: `p${i}`, namespace: 'ns' } });
  // Intercept the second request only.
  let n = 0;
  const orig = client.request.bind(client);
  client.request = (async (opts: Parameters<typeof orig>[0]) => {
    if (++n === 2) throw statusToError({ reason: 'Expired', message: 'The provided continue parameter is too old' }, 410);
    return orig(opts);
  }) as typeof client.request;
  const list = await client.listAll<V1Pod>({ version: 'v1', resource: 'pods', namespace: 'ns' }, { pageSize: 2 });
  t.equal(list.items.length, 5, 'every item, no duplicates');
  t.equal(n, 3);
  t.equal(api.listRequests().at(-1)!.url.searchParams.get('limit'), null, 'last list had no limit');
});

t.test('429 with Retry-After is retried; other errors are not', async (t) => {
  const { api, client } = await fake(t);
  api.put('v1/configmaps', { metadata: { name: 'x', namespace: 'default' } });
  api.failNext('GET', '/api/v1/namespaces/default/configmaps/x', 429, { headers: { 'retry-after': '0' } });
  const got = await client.get<V1ConfigMap>({ ...cms, name: 'x' });
  t.equal(got.metadata?.name, 'x');
  t.equal(api.requests.filter((r) => r.url.pathname.endsWith('/configmaps/x')).length, 2);
  api.failNext('GET', '/api/v1/namespaces/default/configmaps/x', 500);
  const err = await client.get({ ...cms, name: 'x' }).catch((e: unknown) => e);
  t.equal((err as ApiError).reason, 'InternalError');
  t.match((err as ApiError).message, /injected 500/);
});

t.test('a non-Status error body becomes the message', async (t) => {
  const server = http.createServer((_req, res) => {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end('bad gateway from a proxy\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const client = new RestClient({ server: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
  t.teardown(() => {
    client.close();
    server.close();
  });
  const err = await client.get({ version: 'v1', resource: 'pods', namespace: 'a', name: 'b' }).catch((e: unknown) => e);
  t.ok(err instanceof ApiError);
  t.equal((err as ApiError).message, 'bad gateway from a proxy');
  t.equal((err as ApiError).reason, 'InternalError');
});

t.test('requests time out and connection failures name the request', async (t) => {
  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer(() => { /* never answer */ });
  server.on('connection', (s) => sockets.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const client = new RestClient({ server: `http://127.0.0.1:${port}`, timeoutMs: 50 });
  t.teardown(() => {
    client.close();
    for (const s of sockets) s.destroy();
    server.close();
  });
  const err = await client.get({ version: 'v1', resource: 'nodes', name: 'n' }).catch((e: unknown) => e);
  t.equal((err as Error).name, 'TimeoutError');
  t.match((err as Error).message, /GET \/api\/v1\/nodes\/n: timed out/);

  const closed = http.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const deadPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const dead = new RestClient({ server: `http://127.0.0.1:${deadPort}` });
  const refused = await dead.get({ version: 'v1', resource: 'nodes', name: 'n' }).catch((e: unknown) => e);
  t.equal((refused as NodeJS.ErrnoException).code, 'ECONNREFUSED');
  t.match((refused as Error).message, /^GET \/api\/v1\/nodes\/n: /);
  dead.close();
});

t.test('the token bucket lets a burst through, then spaces requests at 1/qps', async (t) => {
  let now = 0;
  const b = new TokenBucket(10, 2, () => now);
  t.equal(b.reserve(), 0);
  t.equal(b.reserve(), 0);
  t.equal(b.reserve(), 100, 'third request waits one token = 100 ms');
  t.equal(b.reserve(), 200, 'fourth queues behind the third');
  now = 1000; // refill to the burst, minus the two owed
  t.equal(b.reserve(), 0);
  t.throws(() => new TokenBucket(0, 1), /qps/);
});

t.test('a client with a tokenFile reads the token from it', async (t) => {
  const { writeFileSync, mkdtempSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'kts-client-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'token'), 'from-file\n');
  const api = new FakeApiServer();
  const server = await api.start();
  const client = new RestClient({ server, tokenFile: join(dir, 'token') });
  t.teardown(async () => {
    client.close();
    await api.close();
  });
  await client.list(cms);
  t.equal(api.requests.at(-1)!.headers.authorization, 'Bearer from-file');
  t.throws(() => new RestClient({ server: 'ftp://x' }), /http/);
});

t.test('resources gives refs that build the upstream paths', async (t) => {
  const { resources, apiVersionOf } = await import('../../../client/resources.ts');
  t.equal(resourcePath({ ...resources.leases, namespace: 'kube-node-lease', name: 'n1' }), '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1');
  t.equal(resourcePath({ ...resources.pods, namespace: 'ns', name: 'p', subresource: 'binding' }), '/api/v1/namespaces/ns/pods/p/binding');
  t.equal(apiVersionOf(resources.endpointslices), 'discovery.k8s.io/v1');
  t.equal(apiVersionOf(resources.nodes), 'v1');
});

t.test('listAll with pageSize 0 sends one list without a limit', async (t) => {
  const { api, client } = await fake(t);
  for (let i = 0; i < 3; i++) api.put('v1/pods', { metadata: { name: `p${i}`, namespace: 'ns' } });
  const list = await client.listAll<V1Pod>({ version: 'v1', resource: 'pods' }, { pageSize: 0, labelSelector: '' });
  t.equal(list.items.length, 3);
  t.equal(api.listRequests().length, 1);
  t.equal(api.listRequests()[0]!.url.searchParams.get('limit'), null);
  await client.listAll<V1Pod>({ version: 'v1', resource: 'pods' }, { labelSelector: '' });
  t.equal(api.listRequests()[1]!.url.searchParams.get('limit'), '500', 'default page size 500');
});

t.test('Warning headers reach onWarning; a watch on one object selects it by name', async (t) => {
  const { parseWarnings } = await import('../../../client/rest.ts');
  t.same(parseWarnings('299 - "spec.foo: unknown field", 299 - "say \\"hi\\""'), ['spec.foo: unknown field', 'say "hi"']);
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', warning: '299 - "deprecated API"' });
    res.end(req.url!.includes('watch=true') ? '' : '{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const warnings: string[] = [];
  const client = new RestClient({ server: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }, { onWarning: (w) => warnings.push(w) });
  t.teardown(() => {
    client.close();
    server.close();
  });
  await client.get({ version: 'v1', resource: 'pods', namespace: 'a', name: 'b' });
  t.same(warnings, ['deprecated API']);
  const { watch } = await import('../../../client/watch.ts');
  const { FakeApiServer } = await import('./fixtures/fake-apiserver.ts');
  const api = new FakeApiServer();
  const url = await api.start();
  const c2 = new RestClient({ server: url });
  t.teardown(async () => {
    c2.close();
    await api.close();
  });
  api.put('v1/pods', { metadata: { name: 'x', namespace: 'ns' } });
  api.put('v1/pods', { metadata: { name: 'y', namespace: 'ns' } });
  const seen: string[] = [];
  for await (const ev of watch<V1Pod>(c2, { version: 'v1', resource: 'pods', namespace: 'ns', name: 'y' }, { resourceVersion: '0' })) {
    seen.push((ev.object as V1Pod).metadata!.name!);
    break;
  }
  t.same(seen, ['y']);
  t.equal(api.watchRequests()[0]!.url.searchParams.get('fieldSelector'), 'metadata.name=y');
  t.equal(api.watchRequests()[0]!.url.pathname, '/api/v1/namespaces/ns/pods');
});
