// How a member shares the host's CPUs with what else runs there (its peers, the apiserver, clients).
// V8's helper threads ("V8Worker": garbage-collector helpers, compilers) run for milliseconds at a stretch, and
// Linux's EEVDF scheduler does not preempt them for a thread woken on their CPU that has used its share lately:
// that thread waits, even while the other CPU sits idle. Measured under `etcdctl check perf --load=m` on two
// cores: etcdctl's rate limiter lost 1.8-2.6% of its tokens to such waits (etcd 3.4 side by side: 1.1%), most of
// them behind V8Worker threads.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import v8 from 'node:v8';
import { statFields } from '../../../lab/process.ts';

/** Thread ids of a process whose name (comm) is `name`. */
export function threadsNamed(name: string, pid: number | 'self' = 'self'): number[] {
  const tids: number[] = [];
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      if (fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim() === name) tids.push(Number(tid));
    } catch {
      // the thread ended while we looked
    }
  }
  return tids;
}

/** A thread's scheduling policy (0 SCHED_OTHER, 3 SCHED_BATCH, 5 SCHED_IDLE): field 41 of its stat. */
export function schedulingPolicy(tid: number, pid: number | 'self' = 'self'): number {
  return Number(statFields(`/proc/${pid}/task/${tid}/stat`)[41 - 3]);
}

/**
 * Let the member's background work give way to other threads on the host:
 * - V8's helper threads run under SCHED_IDLE: any other thread woken on their CPU takes it at once, and they use
 *   what CPU is left (the main thread does the collector's work itself when they fall behind);
 * - young-generation collections run on the main thread alone: a parallel scavenge makes the main thread wait
 *   for every helper, and takes every core of a small host for a few milliseconds, several times a second.
 * Returns what could not be done (the member runs either way).
 */
export function shareCpusWithTheHost(): string[] {
  v8.setFlagsFromString('--no-parallel-scavenge');
  const problems: string[] = [];
  for (const tid of threadsNamed('V8Worker')) {
    try {
      execFileSync('chrt', ['--idle', '--pid', '0', String(tid)], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      problems.push(`chrt --idle --pid 0 ${tid}: ${String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim()}`);
    }
  }
  return problems;
}
