// Benchmark: `etcdctl check perf --load=<s|m|l>` against a 3-member etcd 3.4 and a 3-member kts etcd, one
// after the other on this machine, printing writes/s, the slowest request and kts/etcd ratios.
// Usage: npm run bench:etcd [-- s m l]   (default: s)
// Profiling the members (Node 24 is needed for --cpu-prof in NODE_OPTIONS, so not through npm):
//   NODE_OPTIONS="--cpu-prof --cpu-prof-dir=/tmp/prof" node_modules/.bin/node test/bench/etcd.ts m
// then `node_modules/.bin/node test/bench/cpuprofile-top.ts /tmp/prof/<file>` for self time and busy stretches
// (members are stopped with SIGTERM first so that node writes their profiles).
import { startCluster } from '../integration/store/fixtures/clusters.ts';
import type { Cluster } from '../integration/store/fixtures/clusters.ts';
import { etcdctl } from '../integration/store/fixtures/suite.ts';

interface Result { load: string; kind: string; writesPerSec: number; slowest: number; stddev: number; pass: boolean; raw: string }

async function checkPerf(c: Cluster, load: string): Promise<Result> {
  const r = await etcdctl(c.endpoints, ['check', 'perf', `--load=${load}`]);
  const out = r.stdout + r.stderr;
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? NaN);
  return {
    load, kind: c.kind, raw: out,
    writesPerSec: num(/(\d+(?:\.\d+)?) writes\/s/),
    slowest: num(/Slowest request took(?: too long)?:? (\d+(?:\.\d+)?)s/),
    stddev: num(/Stddev (?:is|too high:) (\d+(?:\.\d+)?)s/),
    pass: r.code === 0 && /^PASS\s*$/m.test(out),
  };
}

const loads = process.argv.slice(2).filter((a) => ['s', 'm', 'l', 'xl'].includes(a));
if (loads.length === 0) loads.push('s');
const results: Result[] = [];
for (const kind of ['etcd', 'kts'] as const) {
  const cluster = await startCluster(kind, 3);
  try {
    for (const load of loads) {
      process.stderr.write(`check perf --load=${load} against 3-member ${kind === 'etcd' ? 'etcd 3.4' : 'kts etcd'}...\n`);
      const res = await checkPerf(cluster, load);
      if (Number.isNaN(res.writesPerSec)) process.stderr.write(res.raw.slice(-2000) + '\n');
      results.push(res);
    }
  } finally {
    for (const m of cluster.members) await cluster.kill(m.name, 'SIGTERM');
    await cluster.stop();
  }
}

const row = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(6) : c.padStart(14))).join(' ');
console.log(row(['load', 'etcd w/s', 'kts w/s', 'ratio', 'etcd slowest', 'kts slowest', 'etcd', 'kts']));
for (const load of loads) {
  const e = results.find((r) => r.kind === 'etcd' && r.load === load)!;
  const k = results.find((r) => r.kind === 'kts' && r.load === load)!;
  console.log(row([load, e.writesPerSec.toFixed(0), k.writesPerSec.toFixed(0), (k.writesPerSec / e.writesPerSec).toFixed(2),
    `${e.slowest.toFixed(3)}s`, `${k.slowest.toFixed(3)}s`, e.pass ? 'PASS' : 'FAIL', k.pass ? 'PASS' : 'FAIL']));
}
