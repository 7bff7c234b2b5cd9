import t from 'tap';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { Store, keyOf, splitKey } from '../../../client/store.ts';

const pod = (ns: string, name: string, node?: string, rv = '1'): V1Pod =>
  ({ metadata: { namespace: ns, name, resourceVersion: rv }, spec: { nodeName: node, containers: [] } });
const byNode = (p: V1Pod) => (p.spec?.nodeName ? [p.spec.nodeName] : []);

t.test('keys are namespace/name, or name for cluster-scoped objects', async (t) => {
  t.equal(keyOf(pod('ns', 'a')), 'ns/a');
  t.equal(keyOf({ metadata: { name: 'n1' } } as V1Node), 'n1');
  t.throws(() => keyOf({ metadata: {} }), /no metadata.name/);
  t.same(splitKey('ns/a'), { namespace: 'ns', name: 'a' });
  t.same(splitKey('n1'), { name: 'n1' });
});

t.test('set, get, delete, and indexes that follow every change', async (t) => {
  const s = new Store<V1Pod>({ node: byNode });
  t.equal(s.set(pod('ns', 'a', 'n1')), undefined);
  s.set(pod('ns', 'b', 'n1'));
  s.set(pod('other', 'c'));
  t.equal(s.size, 3);
  t.equal(s.getByName('ns', 'a')?.spec?.nodeName, 'n1');
  t.equal(s.get('other/c')?.metadata?.name, 'c');
  t.same(s.byIndex('node', 'n1').map(keyOf).sort(), ['ns/a', 'ns/b']);
  t.same(s.byIndex('node', 'n2'), []);
  t.same(s.byIndex('namespace', 'other').map(keyOf), ['other/c'], 'namespace index is built in');

  const old = s.set(pod('ns', 'a', 'n2', '2'));
  t.equal(old?.metadata?.resourceVersion, '1', 'set returns the previous object');
  t.same(s.byIndex('node', 'n1').map(keyOf), ['ns/b'], 'moved out of the old index value');
  t.same(s.byIndex('node', 'n2').map(keyOf), ['ns/a']);

  s.set(pod('other', 'c', 'n2'));
  t.same(s.indexValues('node').sort(), ['n1', 'n2']);
  t.equal(s.delete('ns/b')?.metadata?.name, 'b');
  t.equal(s.delete('ns/b'), undefined);
  t.same(s.indexValues('node'), ['n2'], 'empty index values disappear');
  t.throws(() => s.byIndex('nope', 'x'), /no index named "nope"/);
  s.clear();
  t.equal(s.size, 0);
  t.same(s.byIndex('node', 'n2'), []);
});

t.test('indexes added later cover objects already stored; multi-valued index functions', async (t) => {
  const s = new Store<V1Pod>();
  s.set({ metadata: { namespace: 'ns', name: 'a', labels: { x: '1', y: '2' } } });
  s.set({ metadata: { namespace: 'ns', name: 'b', labels: { y: '2' } } });
  s.addIndexers({ label: (p) => Object.entries(p.metadata?.labels ?? {}).map(([k, v]) => `${k}=${v}`) });
  t.same(s.byIndex('label', 'y=2').map(keyOf).sort(), ['ns/a', 'ns/b']);
  t.same(s.byIndex('label', 'x=1').map(keyOf), ['ns/a']);
  t.throws(() => s.addIndexers({ label: () => [] }), /already exists/);
  t.same(s.list().length, 2);
  t.ok(s.has('ns/a'));
});
