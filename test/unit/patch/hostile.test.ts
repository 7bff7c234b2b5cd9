// Thousands of random and hostile patches: every failure must be an ApiError with a 4xx code, never a crash.
import t from 'tap';
import { applyPatch } from '../../../control/apiserver/patch/index.ts';
import { decodeProtobufBody } from '../../../control/apiserver/protobuf/index.ts';
import { ApiError } from '../../../api/errors.ts';

// small deterministic PRNG so a failure can be replayed
let seed = 0x2f6b1d;
const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; };
const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];

const keys = ['metadata', 'spec', 'template', 'containers', 'name', 'image', 'ports', 'containerPort', 'env', 'value', 'labels',
  'finalizers', 'volumes', 'strategy', 'replicas', '$patch', '$retainKeys', '$setElementOrder/containers', '$deleteFromPrimitiveList/finalizers',
  '$setElementOrder/ports', 'status', 'conditions', 'type', '__proto__', 'constructor'];
function randomValue(depth: number): unknown {
  const r = rnd();
  if (depth > 5 || r < 0.3) return pick([null, 0, 1, -1, 'web', 'delete', 'replace', 'merge', true, false, '', 1e308]);
  if (r < 0.6) return Array.from({ length: Math.floor(rnd() * 4) }, () => randomValue(depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(rnd() * 5); i > 0; i--) o[pick(keys)] = randomValue(depth + 1);
  return o;
}

const live = {
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', labels: { app: 'web' }, finalizers: ['a'] },
  spec: { replicas: 1, template: { spec: { containers: [{ name: 'web', image: 'nginx', ports: [{ containerPort: 80 }] }] } } },
};
const gvk = { group: 'apps', version: 'v1', kind: 'Deployment' };
const types = ['application/strategic-merge-patch+json', 'application/merge-patch+json', 'application/json-patch+json', 'application/apply-patch+yaml'];

function expectClientError(t: Tap, fn: () => unknown, what: string): boolean {
  try { fn(); return true; } catch (e) {
    if (!(e instanceof ApiError) || e.code < 400 || e.code >= 500) { t.fail(`${what}: ${String(e)}`); return false; }
    return true;
  }
}
type Tap = { fail: (m: string) => void };

t.test('random structured patches of every type', async (t) => {
  let failures = 0;
  for (let i = 0; i < 4000; i++) {
    const type = pick(types);
    const patch = type === 'application/json-patch+json'
      ? Array.from({ length: 3 }, () => ({ op: pick(['add', 'remove', 'replace', 'move', 'copy', 'test', 'x']), path: pick(['', '/', '/spec', '/spec/replicas', '/metadata/labels/x', '/a/b/c', '/spec/template/spec/containers/0', '/spec/template/spec/containers/-', '/~2']), from: pick(['/spec', '/nope']), value: randomValue(2) }))
      : randomValue(0);
    const body = Buffer.from(type.includes('apply') && rnd() < 0.5 ? JSON.stringify({ apiVersion: 'apps/v1', kind: 'Deployment', ...(patch as object) }) : JSON.stringify(patch));
    if (!expectClientError(t, () => applyPatch(type, rnd() < 0.2 ? undefined : live, body, { gvk, fieldManager: pick(['m', '', 'other']), force: type.includes('apply') && rnd() < 0.5 }), `${type} ${body}`)) failures++;
    if (failures > 5) break;
  }
  t.equal(failures, 0);
  t.equal(live.spec.replicas, 1, 'the live object is never mutated');
});

t.test('hostile bodies', async (t) => {
  const deep = (n: number, open: string, close: string) => Buffer.from(open.repeat(n) + '1' + close.repeat(n));
  const bodies = [deep(100000, '{"a":', '}'), deep(100000, '[', ']'), Buffer.from([0xff, 0xfe, 0x00]), Buffer.from('null'),
    Buffer.from('"string"'), Buffer.from('1e999999'), Buffer.from('a: &a [*a, *a]\nb: *a'),
    Buffer.from('x: ' + '&a [1]\n'.repeat(1)), Buffer.from('{"__proto__":{"polluted":true}}')];
  for (const type of types) {
    for (const body of bodies) t.ok(expectClientError(t, () => applyPatch(type, live, body, { gvk, fieldManager: 'm' }), `${type} ${body.subarray(0, 40)}`));
  }
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution');
  for (const body of [Buffer.from('k8s\0'), Buffer.concat([Buffer.from('k8s\0'), Buffer.alloc(64, 0xff)]), Buffer.from('k8s\0\x0a\x02\x0a\x00'), ...bodies]) {
    t.ok(expectClientError(t, () => decodeProtobufBody(body), `protobuf ${body.subarray(0, 20).toString('hex')}`));
  }
});

t.test('"__proto__" is an ordinary key (a valid ConfigMap data key)', async (t) => {
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: '1' } };
  const g = { group: '', version: 'v1', kind: 'ConfigMap' };
  for (const type of ['application/merge-patch+json', 'application/strategic-merge-patch+json']) {
    const out = applyPatch(type, cm, Buffer.from('{"data":{"__proto__":"x"}}'), { gvk: g }) as { data: Record<string, string> };
    t.ok(Object.hasOwn(out.data, '__proto__'), type);
    t.equal(JSON.stringify(out.data), '{"a":"1","__proto__":"x"}', type);
  }
  const applied = applyPatch('application/apply-patch+yaml', undefined, Buffer.from('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"__proto__":"y"}}'),
    { gvk: g, fieldManager: 'm' }) as { data: Record<string, string> };
  t.equal(JSON.stringify(applied.data), '{"__proto__":"y"}');
  t.equal(({} as Record<string, unknown>).polluted, undefined);
});

t.test('big lists stay linear: 20,000 keyed elements through SMP and server-side apply', async (t) => {
  const g = { group: '', version: 'v1', kind: 'Pod' };
  const n = 20000;
  const containers = Array.from({ length: n }, (_, i) => ({ name: `c${i}`, image: 'i' }));
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers } };
  const patched = applyPatch('application/strategic-merge-patch+json', pod, Buffer.from(JSON.stringify({ spec: {
    '$setElementOrder/containers': containers.map((c) => ({ name: c.name })),
    containers: containers.map((c, i) => (i % 2 ? { name: c.name, image: 'j' } : { name: c.name, $patch: 'delete' })),
  } })), { gvk: g }) as any;
  t.equal(patched.spec.containers.length, n / 2);
  t.same(patched.spec.containers[0], { name: 'c1', image: 'j' });
  const created = applyPatch('application/apply-patch+yaml', undefined, Buffer.from(JSON.stringify(pod)), { gvk: g, fieldManager: 'm' });
  const shrunk = applyPatch('application/apply-patch+yaml', created,
    Buffer.from(JSON.stringify({ ...pod, spec: { containers: [{ name: 'c7', image: 'i' }] } })), { gvk: g, fieldManager: 'm' }) as any;
  t.same(shrunk.spec.containers, [{ name: 'c7', image: 'i' }]);
  const reapplied = applyPatch('application/apply-patch+yaml', created,
    Buffer.from(JSON.stringify({ ...pod, spec: { containers: containers.map((c) => ({ ...c, image: 'k' })) } })), { gvk: g, fieldManager: 'm' }) as any;
  t.equal(reapplied.spec.containers.length, n);
  t.ok(reapplied.spec.containers.every((c: { image: string }) => c.image === 'k'));
});

t.test('json patch copies cannot blow the document up', async (t) => {
  const g = { group: '', version: 'v1', kind: 'ConfigMap' };
  const ops = [{ op: 'add', path: '/data', value: { a: 'x'.repeat(1000) } },
    ...Array.from({ length: 40 }, (_, i) => ({ op: 'copy', from: '/data', path: `/data/c${i}` }))];
  t.throws(() => applyPatch('application/json-patch+json', { metadata: { name: 'c' } }, Buffer.from(JSON.stringify(ops)), { gvk: g }),
    { code: 422, message: /accumulated size increase of copy/ });
  const fine = applyPatch('application/json-patch+json', { metadata: { name: 'c' }, data: { a: '1' } },
    Buffer.from(JSON.stringify([{ op: 'copy', from: '/data/a', path: '/data/b' }])), { gvk: g }) as { data: Record<string, string> };
  t.same(fine.data, { a: '1', b: '1' });
});
