// Benchmark: `etcdctl check perf --load=<s|m|l>` against a 3-member etcd 3.4 and a 3-member kts etcd, one
// after the other on this machine, printing writes/s, the slowest request, kts/etcd ratios, and for each member its CPU
// per write and its writes per WAL fsync (from /metrics: how much group commit batches).
// Usage: npm run bench:etcd [-- s m l]   (default: s)
// Profiling the members (Node 24 is needed for --cpu-prof in NODE_OPTIONS, so not through npm):
//   NODE_OPTIONS="--cpu-prof --cpu-prof-dir=/tmp/prof" node_modules/.bin/node test/bench/etcd.ts m
// then `node_modules/.bin/node test/bench/cpuprofile-top.ts /tmp/prof/<file>` for self time and busy stretches
// (members are stopped with SIGTERM first so that node writes their profiles).
// `--only=kts` (or `--only=etcd`) runs one side only, for profiling; no ratio is printed then.
// `--rounds=N` repeats the whole comparison N times (fresh clusters each time, the two systems alternating) and
// adds the median of each load's ratios: single runs on this shared 2-core machine vary by several percent.
import os from 'node:os';
import { startCluster } from '../integration/store/fixtures/clusters.ts';
import type { Cluster } from '../integration/store/fixtures/clusters.ts';
import { etcdctl } from '../integration/store/fixtures/suite.ts';
import { leaderName } from '../integration/store/fixtures/durability.ts';
import { statFields } from '../../lab/process.ts';

interface Result {
  load: string; kind: string; writesPerSec: number; slowest: number; stddev: number; pass: boolean; raw: string;
  /** CPU (user + system) each member used during the run, in ms per write: independent of how busy the machine is. */
  cpuPerWrite: number[];
  /** Which member led at the end of the run (-1: unknown). */
  leaderIndex: number;
  /** Writes per WAL fsync on each member (etcd_disk_wal_fsync_duration_seconds_count): how much group commit batches. */
  writesPerFsync: number[];
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat; NaN once it is gone. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const f = statFields(`/proc/${pid}/stat`);
    return (Number(f[14 - 3]) + Number(f[15 - 3])) / CLOCK_TICKS; // utime, stime
  } catch {
    return NaN;
  }
}
const CLOCK_TICKS = 100;

/** The member's WAL fsyncs so far, from its /metrics; NaN if unreadable. */
async function walFsyncs(endpoint: string): Promise<number> {
  try {
    const text = await (await fetch(`${endpoint}/metrics`)).text();
    return Number(/^etcd_disk_wal_fsync_duration_seconds_count (\d+)/m.exec(text)?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

async function checkPerf(c: Cluster, load: string): Promise<Result> {
  const pids = [...c.procs.values()].map((p) => p?.pid);
  const cpuBefore = pids.map(cpuSeconds);
  const fsyncsBefore = await Promise.all(c.endpoints.map(walFsyncs));
  const r = await etcdctl(c.endpoints, ['check', 'perf', `--load=${load}`]);
  const cpuAfter = pids.map(cpuSeconds);
  const fsyncsAfter = await Promise.all(c.endpoints.map(walFsyncs));
  const out = r.stdout + r.stderr;
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? NaN);
  const writes = num(/(\d+(?:\.\d+)?) writes\/s/) * 60;
  const leader = await leaderName(c, c.members.map((m) => m.name));
  return {
    leaderIndex: c.members.findIndex((m) => m.name === leader),
    cpuPerWrite: cpuAfter.map((a, i) => (1000 * (a - cpuBefore[i])) / writes),
    writesPerFsync: fsyncsAfter.map((a, i) => writes / (a - fsyncsBefore[i])),
    load, kind: c.kind, raw: out,
    writesPerSec: num(/(\d+(?:\.\d+)?) writes\/s/),
    slowest: num(/Slowest request took(?: too long)?:? (\d+(?:\.\d+)?)s/),
    stddev: num(/Stddev (?:is|too high:) (\d+(?:\.\d+)?)s/),
    pass: r.code === 0 && /^PASS\s*$/m.test(out),
  };
}

const loads = process.argv.slice(2).filter((a) => ['s', 'm', 'l', 'xl'].includes(a));
if (loads.length === 0) loads.push('s');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
const kinds = (['etcd', 'kts'] as const).filter((k) => !only || k === only);
const rounds = Math.max(1, Number(process.argv.find((a) => a.startsWith('--rounds='))?.slice('--rounds='.length) ?? 1));
const results: Array<Result & { round: number }> = [];
for (let round = 1; round <= rounds; round++) {
  for (const kind of kinds) {
    const cluster = await startCluster(kind, 3);
    try {
      for (const load of loads) {
        process.stderr.write(`${rounds > 1 ? `round ${round}: ` : ''}check perf --load=${load} against 3-member ${kind === 'etcd' ? 'etcd 3.4' : 'kts etcd'} (load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')})...\n`);
        const res = await checkPerf(cluster, load);
        if (Number.isNaN(res.writesPerSec)) process.stderr.write(res.raw.slice(-2000) + '\n');
        results.push({ ...res, round });
      }
    } finally {
      for (const m of cluster.members) await cluster.kill(m.name, 'SIGTERM');
      await cluster.stop();
    }
  }
}

console.log(`load average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
const row = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(6) : c.padStart(14))).join(' ');
console.log(row(['load', 'etcd w/s', 'kts w/s', 'ratio', 'etcd slowest', 'kts slowest', 'etcd', 'kts']));
const nan: Result = { load: '-', kind: '-', raw: '', writesPerSec: NaN, slowest: NaN, stddev: NaN, pass: false, cpuPerWrite: [], leaderIndex: -1, writesPerFsync: [] };
for (const load of loads) {
  const ratios: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    const e = results.find((r) => r.kind === 'etcd' && r.load === load && r.round === round) ?? nan;
    const k = results.find((r) => r.kind === 'kts' && r.load === load && r.round === round) ?? nan;
    ratios.push(k.writesPerSec / e.writesPerSec);
    console.log(row([load, e.writesPerSec.toFixed(0), k.writesPerSec.toFixed(0), ratios.at(-1)!.toFixed(2),
      `${e.slowest.toFixed(3)}s`, `${k.slowest.toFixed(3)}s`, e.pass ? 'PASS' : 'FAIL', k.pass ? 'PASS' : 'FAIL']));
  }
  if (rounds > 1) console.log(row([load, '', '', `median ${median(ratios).toFixed(2)}`]));
}
console.log('\nCPU (user + system) per write, ms, each member (* the leader):');
for (const r of results) {
  console.log(`${r.load.padEnd(6)} ${r.kind.padEnd(5)} ${r.cpuPerWrite.map((c, i) => `${c.toFixed(3)}${i === r.leaderIndex ? '*' : ' '}`).join(' ')}`);
}
console.log('\nWrites per WAL fsync, each member (* the leader):');
for (const r of results) {
  console.log(`${r.load.padEnd(6)} ${r.kind.padEnd(5)} ${r.writesPerFsync.map((w, i) => `${w.toFixed(2).padStart(6)}${i === r.leaderIndex ? '*' : ' '}`).join(' ')}`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
