// The member's CPU sharing, applied to this test process (Node 24 names its threads): V8's helper threads end up
// under SCHED_IDLE and every other thread keeps SCHED_OTHER.
import t from 'tap';
import fs from 'node:fs';
import { schedulingPolicy, shareCpusWithTheHost, threadsNamed } from '../../../control/etcd/server/cpu-sharing.ts';

const SCHED_OTHER = 0;
const SCHED_IDLE = 5;

const policy = (tid: number) => schedulingPolicy(tid);

t.test('threadsNamed finds the main thread and the V8 helpers by name', async (t) => {
  t.same(threadsNamed('MainThread'), [process.pid]);
  t.ok(threadsNamed('V8Worker').length > 0, 'V8 has helper threads');
  t.same(threadsNamed('no such thread'), []);
});

t.test('shareCpusWithTheHost puts the V8 helpers, and only them, under SCHED_IDLE', async (t) => {
  const helpers = threadsNamed('V8Worker');
  t.ok(helpers.every((tid) => policy(tid) === SCHED_OTHER), 'before: the default policy');
  t.same(shareCpusWithTheHost(), [], 'nothing refused');
  t.same(helpers.map(policy), helpers.map(() => SCHED_IDLE));
  const others = fs.readdirSync('/proc/self/task').map(Number).filter((tid) => !helpers.includes(tid));
  t.same(others.map(policy), others.map(() => SCHED_OTHER));
  t.same(shareCpusWithTheHost(), [], 'a second call is harmless');
});
