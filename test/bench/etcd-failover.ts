// Benchmark: leader failover. kill -9 the leader of a 3-member cluster and time until a survivor reports
// itself leader (etcdctl endpoint status, polled), for etcd 3.4 and kts etcd side by side; both run with
// the default election timeout (1000 ms). The target: a new leader within 2 s of the election timeout.
// Usage: npm run bench:etcd-failover [-- ROUNDS]   (default 3 rounds per implementation)
import { startCluster } from '../integration/store/fixtures/clusters.ts';
import { leaderName } from '../integration/store/fixtures/durability.ts';

const ELECTION_TIMEOUT_S = 1.0;
const rounds = Number(process.argv[2] ?? 3);

async function until<T>(fn: () => Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const results: Record<string, number[]> = {};
for (const kind of ['etcd', 'kts'] as const) {
  const c = await startCluster(kind, 3);
  results[kind] = [];
  try {
    const names = c.members.map((m) => m.name);
    for (let i = 0; i < rounds; i++) {
      const leader = await until(() => leaderName(c, names), 30_000);
      const t0 = performance.now();
      await c.kill(leader, 'SIGKILL');
      const survivors = names.filter((n) => n !== leader);
      await until(() => leaderName(c, survivors), 60_000);
      results[kind].push((performance.now() - t0) / 1000);
      process.stderr.write(`${kind}: round ${i + 1}: new leader after ${results[kind].at(-1)!.toFixed(2)} s\n`);
      await c.restart(leader);
    }
  } finally {
    await c.stop();
  }
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, max: s.at(-1)! };
};
const e = stats(results.etcd!);
const k = stats(results.kts!);
console.log('leader failover after kill -9 (s)   etcd 3.4      kts   ratio');
console.log(`median                              ${e.median.toFixed(2).padStart(8)} ${k.median.toFixed(2).padStart(8)} ${(k.median / e.median).toFixed(2).padStart(7)}`);
console.log(`max                                 ${e.max.toFixed(2).padStart(8)} ${k.max.toFixed(2).padStart(8)} ${(k.max / e.max).toFixed(2).padStart(7)}`);
console.log(`target: within ${ELECTION_TIMEOUT_S + 2} s (election timeout ${ELECTION_TIMEOUT_S} s + 2 s): kts ${k.max <= ELECTION_TIMEOUT_S + 2 ? 'met' : 'missed'}`);
