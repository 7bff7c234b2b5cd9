// Failure scenarios shared by both implementations: kill -9 under write load, then every write that was
// acknowledged must be readable (from the surviving members, and from all members after a full restart).
import { Etcd3 } from 'etcd3';
import type { Test } from 'tap';
import type { Cluster } from './clusters.ts';
import { etcdctl } from './suite.ts';

interface Load { acked: Map<string, string>; stop(): Promise<void> }

/** Writers that put fresh keys as fast as acknowledgements come back; failures are ignored (not acked). */
function writeLoad(endpoints: string[], prefix: string, writers = 16): Load {
  const client = new Etcd3({ hosts: endpoints, dialTimeout: 2000 });
  const acked = new Map<string, string>();
  let running = true;
  const loops = Array.from({ length: writers }, async (_, w) => {
    for (let i = 0; running; i++) {
      const key = `${prefix}/w${w}/${i}`, value = `v${i}-${'x'.repeat(100)}`;
      try {
        await client.put(key).value(value).exec();
        acked.set(key, value);
      } catch {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  });
  return {
    acked,
    async stop() { running = false; await Promise.allSettled(loops); client.close(); },
  };
}

async function readAll(endpoints: string[], prefix: string): Promise<Record<string, string>> {
  const client = new Etcd3({ hosts: endpoints });
  try {
    for (let attempt = 0; ; attempt++) {
      try { return await client.getAll().prefix(`${prefix}/`).strings(); } catch (err) {
        if (attempt > 50) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  } finally { client.close(); }
}

function missing(acked: Map<string, string>, found: Record<string, string>): string[] {
  return [...acked].filter(([k, v]) => found[k] !== v).map(([k]) => k);
}

async function leaderName(c: Cluster, among: string[]): Promise<string | undefined> {
  for (const name of among) {
    const m = c.members.find((x) => x.name === name)!;
    const st = await etcdctl([`127.0.0.1:${m.clientPort}`], ['endpoint', 'status', '-w', 'json']);
    if (st.code !== 0) continue;
    const [s] = JSON.parse(st.stdout) as Array<{ Status: { leader: number | string; header: { member_id: number | string } } }>;
    if (String(s.Status.leader) === String(s.Status.header.member_id)) return name;
  }
  return undefined;
}

export function durabilitySuite(t: Test, cluster: () => Cluster): void {
  t.test('kill -9 under write load: acknowledged writes survive', async (t) => {
    const c = cluster();
    const prefix = `/dur-${Math.random().toString(36).slice(2, 8)}`;
    const names = c.members.map((m) => m.name);
    const victim = names.length === 1 ? names[0] : (await leaderName(c, names)) ?? names[0];
    const load = writeLoad(c.endpoints, prefix);
    while (load.acked.size < 300) await new Promise((r) => setTimeout(r, 20));
    await c.kill(victim, 'SIGKILL');
    if (names.length > 1) {
      // the others elect a new leader and keep taking writes
      const before = load.acked.size;
      const deadline = Date.now() + 20_000;
      while (load.acked.size < before + 100 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      t.ok(load.acked.size >= before + 100, 'writes continue after the leader was killed');
      const survivors = names.filter((n) => n !== victim);
      t.ok(await leaderName(c, survivors), 'a survivor is the leader');
    }
    await load.stop();
    t.ok(load.acked.size >= 300, `${load.acked.size} writes acknowledged`);
    const live = c.members.filter((m) => m.name !== victim).map((m) => `http://127.0.0.1:${m.clientPort}`);
    if (live.length > 0) {
      t.same(missing(load.acked, await readAll(live, prefix)), [], 'every acknowledged write readable on the survivors');
    }
    await c.restart(victim);
    t.same(missing(load.acked, await readAll(c.endpoints, prefix)), [], 'every acknowledged write readable after restart');
  });

  t.test('restart every member from disk: same data', async (t) => {
    const c = cluster();
    const prefix = `/restart-${Math.random().toString(36).slice(2, 8)}`;
    const client = new Etcd3({ hosts: c.endpoints });
    for (let i = 0; i < 50; i++) await client.put(`${prefix}/${i}`).value(String(i));
    await client.delete().key(`${prefix}/7`);
    const before = await client.getAll().prefix(`${prefix}/`).strings();
    const rev = (await client.get(`${prefix}/1`).exec()).header.revision;
    client.close();
    for (const m of c.members) await c.kill(m.name, 'SIGKILL');
    await Promise.all(c.members.map((m) => c.restart(m.name)));
    const after = await readAll(c.endpoints, prefix);
    t.same(after, before);
    t.equal(Object.keys(after).length, 49);
    const again = new Etcd3({ hosts: c.endpoints });
    const rev2 = (await again.get(`${prefix}/1`).exec()).header.revision;
    again.close();
    t.equal(rev2, rev, 'same revision after restart');
  });
}
