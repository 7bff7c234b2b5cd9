import t from 'tap';
import { SortedKeys } from '../../../control/etcd/mvcc/sorted-keys.ts';

const byBytes = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

t.test('random inserts (with duplicates) iterate in byte order, across many block splits', async (t) => {
  const s = new SortedKeys();
  const ref = new Set<string>();
  let seed = 7;
  const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
  for (let i = 0; i < 5000; i++) {
    const k = String.fromCharCode(rnd() % 256, rnd() % 256, rnd() % 256).slice(0, 1 + (rnd() % 3));
    s.insert(k);
    ref.add(k);
  }
  const want = [...ref].sort(byBytes);
  t.equal(s.size, want.length);
  t.same([...s], want);
  // forEachFrom starts at the first key >= the probe and stops when told to
  for (const probe of ['', '\x00', 'a', '\x80\x80', '\xff\xff\xff\xff']) {
    const got: string[] = [];
    s.forEachFrom(probe, (k) => { got.push(k); return got.length < 10; });
    t.same(got, want.filter((k) => k >= probe).slice(0, 10), `from ${JSON.stringify(probe)}`);
  }
});

t.test('retain and reset', async (t) => {
  const s = new SortedKeys();
  for (let i = 0; i < 2000; i++) s.insert(`k${String(i).padStart(5, '0')}`);
  s.retain((k) => k.endsWith('7'));
  t.equal(s.size, 200);
  t.same([...s].slice(0, 2), ['k00007', 'k00017']);
  s.insert('k00008');
  t.same([...s].slice(0, 3), ['k00007', 'k00008', 'k00017']);
  s.reset([]);
  t.equal(s.size, 0);
  t.same([...s], []);
  const seen: string[] = [];
  s.forEachFrom('', (k) => { seen.push(k); return true; });
  t.same(seen, []);
  s.insert('b'); s.insert('a');
  t.same([...s], ['a', 'b']);
});
