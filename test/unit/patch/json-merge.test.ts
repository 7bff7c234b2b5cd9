import t from 'tap';
import { applyPatch } from '../../../control/apiserver/patch/index.ts';

const gvk = { group: '', version: 'v1', kind: 'ConfigMap' };
const cm = () => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', labels: { a: '1', b: '2' } }, data: { x: '1' }, list: [1, 2] });
const patch = (type: string, current: object | undefined, body: unknown) =>
  applyPatch(type, current, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), { gvk, resource: 'configmaps', name: 'c' }) as any;

t.test('merge patch (RFC 7386)', async (t) => {
  const r = patch('application/merge-patch+json', cm(), { metadata: { labels: { a: null, c: '3' } }, data: { y: '2' }, list: [3] });
  t.same(r.metadata.labels, { b: '2', c: '3' });
  t.same(r.data, { x: '1', y: '2' });
  t.same(r.list, [3], 'lists are replaced');
  t.same(patch('application/merge-patch+json; charset=utf-8', cm(), { spec: { replicas: 5 } }).spec, { replicas: 5 });
  t.throws(() => patch('application/merge-patch+json', cm(), [1]), { reason: 'BadRequest', code: 400 });
  t.throws(() => patch('application/merge-patch+json', cm(), 'not json'), { reason: 'BadRequest', message: /invalid JSON/ });
  t.throws(() => patch('application/merge-patch+json', cm(), ''), { reason: 'BadRequest', message: /empty/ });
});

t.test('json patch (RFC 6902)', async (t) => {
  const r = patch('application/json-patch+json', cm(), [
    { op: 'replace', path: '/data/x', value: '9' },
    { op: 'add', path: '/metadata/labels/new', value: 'n' },
    { op: 'remove', path: '/metadata/labels/a' },
    { op: 'add', path: '/list/-', value: 3 },
    { op: 'copy', from: '/data/x', path: '/data/z' },
    { op: 'move', from: '/data/z', path: '/data/w' },
    { op: 'test', path: '/data/w', value: '9' },
  ]);
  t.same(r.data, { x: '9', w: '9' });
  t.same(r.metadata.labels, { b: '2', new: 'n' });
  t.same(r.list, [1, 2, 3]);
  t.throws(() => patch('application/json-patch+json', cm(), [{ op: 'test', path: '/data/x', value: 'no' }]),
    { reason: 'Invalid', code: 422, message: /testing value \/data\/x failed/ });
  t.throws(() => patch('application/json-patch+json', cm(), [{ op: 'replace', path: '/spec/nothing', value: 1 }]),
    { reason: 'Invalid', code: 422, message: /\/spec\/nothing/ });
  t.throws(() => patch('application/json-patch+json', cm(), [{ op: 'remove', path: '/data/missing' }]), { code: 422 });
  t.throws(() => patch('application/json-patch+json', cm(), [{ op: 'frobnicate', path: '/a' }]), { code: 422, message: /Unexpected kind/ });
  t.throws(() => patch('application/json-patch+json', cm(), [{ op: 'add', path: '/a' }]), { code: 422, message: /value/ });
  t.throws(() => patch('application/json-patch+json', cm(), { op: 'add' }), { reason: 'BadRequest', message: /array/ });
  t.throws(() => patch('application/json-patch+json', cm(), [7]), { reason: 'BadRequest', code: 400 });
  t.throws(() => patch('application/json-patch+json', cm(), '[{'), { reason: 'BadRequest', code: 400 });
  t.throws(() => patch('application/json-patch+json', cm(), [{ op: 'add', path: '/__proto__/x', value: 1 }]), { code: 422 });
  const ops = Array.from({ length: 10001 }, () => ({ op: 'test', path: '/kind', value: 'ConfigMap' }));
  t.throws(() => patch('application/json-patch+json', cm(), ops), { reason: 'RequestEntityTooLarge', code: 413 });
});

t.test('content types and missing objects', async (t) => {
  t.throws(() => patch('application/xml', cm(), {}), { reason: 'UnsupportedMediaType', code: 415 });
  t.throws(() => patch('application/merge-patch+json', undefined, {}), { reason: 'NotFound', code: 404, message: 'configmaps "c" not found' });
  t.throws(() => patch('application/json-patch+json', undefined, []), { reason: 'NotFound', code: 404 });
  const cur = cm();
  const before = JSON.stringify(cur);
  patch('application/json-patch+json', cur, [{ op: 'remove', path: '/data' }]);
  patch('application/merge-patch+json', cur, { data: null });
  t.equal(JSON.stringify(cur), before, 'current is not mutated');
});
