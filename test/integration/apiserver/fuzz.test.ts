// Thousands of malformed and hostile requests: every answer must be below 500 and, when it is an error, a Status.
import https from 'node:https';
import t from 'tap';
import { startTestCluster } from '../../../control/apiserver/testing/server.ts';

const c = await startTestCluster();
t.teardown(() => c.stop());
const agent = new https.Agent({ ca: c.caPem, cert: c.admin.certPem, key: c.admin.keyPem, keepAlive: true, maxSockets: 16 });
t.teardown(() => agent.destroy());

// A small seeded generator so a failure can be replayed.
let seed = Number(process.env.FUZZ_SEED ?? 20261123);
const rand = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

function send(method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  // frame every body explicitly: Node sends DELETE/OPTIONS bodies unframed otherwise
  if (body !== undefined) headers = { ...headers, 'content-length': String(Buffer.byteLength(body)) };
  return new Promise((resolve) => {
    const req = https.request(`${c.url}${path}`, { method, agent, headers }, (res) => {
      // successes need no body (and watch streams never end): only error bodies are checked
      if ((res.statusCode ?? 0) < 300) { res.destroy(); resolve({ status: res.statusCode ?? 0, text: '' }); return; }
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => { if (chunks.length < 64) chunks.push(d); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', () => resolve({ status: -1, text: 'response error' }));
    });
    req.setTimeout(20_000, () => { req.destroy(); resolve({ status: -2, text: 'timeout' }); });
    req.on('error', (e) => resolve({ status: -1, text: String(e) }));
    req.end(body);
  });
}

const paths = [
  '/api/v1/namespaces/default/pods', '/api/v1/namespaces/default/pods/p', '/api/v1/namespaces/default/pods/p/status',
  '/api/v1/namespaces/default/pods/p/binding', '/api/v1/namespaces/default/pods/p/eviction', '/api/v1/namespaces/default/pods/p/log',
  '/api/v1/nodes', '/api/v1/nodes/n1', '/api/v1/namespaces', '/api/v1/namespaces/x', '/api/v1/namespaces/x/status',
  '/api/v1/namespaces/default/services', '/api/v1/namespaces/default/services/s', '/api/v1/namespaces/default/configmaps/c',
  '/api/v1/namespaces/default/secrets', '/apis/apps/v1/namespaces/default/deployments', '/apis/apps/v1/namespaces/default/deployments/d/scale',
  '/apis/apps/v1/namespaces/default/deployments/d', '/apis/rbac.authorization.k8s.io/v1/clusterroles/r', '/apis/scheduling.k8s.io/v1/priorityclasses',
  '/api', '/apis', '/api/v1', '/apis/apps', '/apis/apps/v1', '/apis/nope/v9/things', '/api/v2/pods', '/version', '/openapi/v3',
  '/openapi/v3/apis/apps/v1', '/openapi/v2', '/healthz', '/metrics', '/', '/api/v1/watch/namespaces/default/pods',
  '/api/v1/namespaces/default/pods/a/b/c/d', '/api/v1/namespaces//pods', '/api/v1/namespaces/%zz/pods', '/api/v1/pods/x',
  '/api/v1/namespaces/default/nodes/n', '/apis/apps/v1/deployments/x', '/%', '/..%2f..%2fetc/passwd', '/api/v1/namespaces/default/pods/' + 'a'.repeat(5000),
];
const queries = [
  '', '?watch=true&timeoutSeconds=0', '?watch=maybe', '?limit=-1', '?limit=abc', '?limit=2', '?continue=garbage', '?continue=eyJ2IjoxfQ',
  '?labelSelector=a%20in%20(', '?labelSelector=!!', '?labelSelector=a=b,c!=d', '?fieldSelector=spec.bogus=1', '?fieldSelector=metadata.name',
  '?fieldSelector=status.phase!=Running', '?resourceVersion=abc', '?resourceVersion=1&resourceVersionMatch=Weird', '?resourceVersionMatch=Exact',
  '?resourceVersion=99999999&resourceVersionMatch=Exact', '?dryRun=Maybe', '?dryRun=All', '?fieldValidation=Loud', '?fieldValidation=Strict',
  '?gracePeriodSeconds=abc', '?propagationPolicy=Sideways', '?includeObject=Everything', '?timeoutSeconds=-5&watch=1', '?force=true',
  '?fieldManager=' + 'm'.repeat(300), '?%%%=%%%', '?a=1&a=2&a=3', '?watch=1&resourceVersion=1',
];
const contentTypes = [
  'application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf', 'application/merge-patch+json', 'application/json-patch+json',
  'application/strategic-merge-patch+json', 'application/apply-patch+yaml', 'text/plain', 'application/xml', '', 'application/json; charset=utf-8',
];

function deep(n: number, open: string, close: string): string { return open.repeat(n) + close.repeat(n); }
const kinds = ['Pod', 'Deployment', 'Service', 'ConfigMap', 'Namespace', 'Node', 'Scale', 'Binding', 'Eviction', 'Status', '', 7];
const junkValues: unknown[] = [null, 0, -1, 1e308, 'x', '', true, [], {}, [1, 'a'], { a: { b: { c: [] } } }, '\u0000', 'a'.repeat(300), '-1Gi', '1e999'];

function randomObject(): unknown {
  const obj: Record<string, unknown> = { apiVersion: pick(['v1', 'apps/v1', 'x/y', 3, undefined]), kind: pick(kinds), metadata: pick([
    { name: 'p' }, { name: 'P_Bad' }, { generateName: 'g-' }, { name: 'a'.repeat(300) }, { name: 'p', namespace: 'other' }, { name: 7 }, [], null, 'meta',
    { name: 'p', labels: { 'bad key!': 'v' } }, { name: 'p', labels: { k: 5 } }, { name: 'p', finalizers: [1] }, { name: 'p', resourceVersion: 'abc' },
    { name: 'p', annotations: 'x' }, { name: 'p', ownerReferences: 'me' },
  ]) };
  const specs: unknown[] = [
    { containers: [{ name: 'a', image: 'i' }] }, { containers: [{ name: 'a', image: 'i' }, { name: 'a', image: 'j' }] },
    { containers: 'none' }, { containers: [{ name: 1 }] }, { containers: [{ name: 'a', image: 'i', resources: { limits: { cpu: 'lots' } } }] },
    { containers: [{ name: 'a', image: 'i', ports: [{ containerPort: 'http' }] }] }, { replicas: -3, selector: 5 }, { replicas: 'two' },
    { type: 'Weird', ports: [{ port: 0 }] }, { type: 'NodePort', ports: [{ port: 80, nodePort: 1 }] }, { clusterIP: '999.1.1.1', ports: [{ port: 1 }] },
    { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { c: 'd' } } } }, pick(junkValues),
  ];
  obj.spec = pick(specs);
  if (rand() < 0.3) obj.status = pick([{ phase: 'Running' }, 'done', [], { replicas: 'x' }]);
  if (rand() < 0.2) obj.data = pick([{ k: 'v' }, { 'bad key': 1 }, 'x', { k: '%%%' }]);
  if (rand() < 0.2) obj[pick(['bogus', 'spec2', '__proto__', 'constructor'])] = pick(junkValues);
  if (rand() < 0.1) obj.target = pick([{ name: 'n1' }, { name: 5 }, 'n1']);
  if (rand() < 0.1) obj.deleteOptions = pick([{ gracePeriodSeconds: 'x' }, { propagationPolicy: 'Up' }, []]);
  return obj;
}

function randomBody(): Buffer | string {
  switch (Math.floor(rand() * 14)) {
    case 0: return '{"apiVersion":';
    case 1: return 'not json at all';
    case 2: return deep(10_000, '[', ']');
    case 3: return deep(5_000, '{"a":', '}').replace(/}$/, '1}');
    case 4: return JSON.stringify(pick(junkValues));
    case 5: return 'a: [\n  - b\n:::';
    case 6: return 'a: &x [*x]\n';
    case 7: return '---\na: 1\n---\nb: 2\n';
    case 8: return Buffer.from([0x6b, 0x38, 0x73, 0x00, 0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01]);
    case 9: return Buffer.from(Array.from({ length: 64 }, () => Math.floor(rand() * 256)));
    case 10: return JSON.stringify([{ op: pick(['add', 'remove', 'move', 'explode']), path: pick(['/spec', '/a/b/c', 'nope', '/metadata/~2']), value: 1 }]);
    case 11: return '{"$patch":"delete","spec":{"$setElementOrder/containers":5,"containers":[{"$patch":"replace"}]}}';
    case 12: return '';
    default: return JSON.stringify(randomObject());
  }
}

const problems: string[] = [];
let total = 0;
async function worker(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const method = pick(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'GET', 'POST', 'OPTIONS', 'HEAD']);
    const path = pick(paths) + pick(queries);
    const headers: Record<string, string> = {};
    const ct = pick(contentTypes);
    if (ct) headers['content-type'] = ct;
    if (rand() < 0.3) headers.accept = pick(['application/json;as=Table;v=v1;g=meta.k8s.io', 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList', '*/*', 'text/html']);
    const body = method === 'GET' || method === 'HEAD' ? undefined : randomBody();
    const res = await send(method, path, body, headers);
    total++;
    if (res.status < 0 || res.status >= 500) problems.push(`${method} ${path.slice(0, 120)} ${ct} -> ${res.status}: ${res.text.slice(0, 200)}`);
    else if (res.status >= 400 && method !== 'HEAD') {
      let ok = false;
      try { const s = JSON.parse(res.text); ok = s.kind === 'Status' && s.status === 'Failure' && s.code === res.status; } catch { /* not JSON */ }
      if (!ok) problems.push(`${method} ${path.slice(0, 120)} -> ${res.status} without a Status: ${res.text.slice(0, 200)}`);
    }
  }
}

t.test('no input produces a 5xx, every error is a Status', async (t) => {
  await Promise.all(Array.from({ length: 12 }, () => worker(250)));
  // a few bodies over the 3 MiB limit, and a huge header-ish path
  const big = Buffer.alloc(3 * 1024 * 1024 + 10, 0x61);
  for (const ct of ['application/json', 'application/yaml', 'application/merge-patch+json']) {
    const r = await send(ct.includes('merge') ? 'PATCH' : 'POST', `/api/v1/namespaces/default/${ct.includes('merge') ? 'configmaps/c' : 'configmaps'}`, big, { 'content-type': ct });
    total++;
    if (r.status !== 413 || JSON.parse(r.text).reason !== 'RequestEntityTooLarge') problems.push(`big body ${ct} -> ${r.status} ${r.text.slice(0, 200)}`);
  }
  // bodies under the HTTP limit but over etcd's request limit: 413, and storage stays usable for everyone
  for (let i = 0; i < 5; i++) {
    const cm = JSON.stringify({ metadata: { name: `huge${i}` }, data: { k: 'x'.repeat(2 * 1024 * 1024) } });
    const r = await send('POST', '/api/v1/namespaces/default/configmaps', cm, { 'content-type': 'application/json' });
    total++;
    if (r.status !== 413) problems.push(`2 MiB object -> ${r.status} ${r.text.slice(0, 200)}`);
  }
  const after = await send('POST', '/api/v1/namespaces/default/configmaps', JSON.stringify({ metadata: { name: 'small-after-huge' } }), { 'content-type': 'application/json' });
  if (after.status !== 201) problems.push(`a small create after oversized ones -> ${after.status} ${after.text.slice(0, 200)}`);
  t.same(problems.slice(0, 20), [], `${problems.length} of ${total} requests misbehaved`);
  t.ok(total >= 3000, `sent ${total} requests`);
  const health = await send('GET', '/healthz');
  t.equal(health.status, 200, 'the server is still up');
});
