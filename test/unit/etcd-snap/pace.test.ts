// runPaced: background work in slices that lets timers and I/O run between slices (a snapshot must not hold
// the event loop), and stops at the first step that says it is done.
import t from 'tap';
import { runPaced } from '../../../control/etcd/snap/pace.ts';

t.test('steps until done, with timers running in between', async (t) => {
  const order: string[] = [];
  setTimeout(() => order.push('timer'), 0);
  let n = 0;
  await runPaced(() => {
    const busyUntil = Date.now() + 2; // a slice that takes a little time
    while (Date.now() < busyUntil);
    order.push(`step ${++n}`);
    return n === 3;
  });
  t.equal(n, 3, 'stops at the step that returns true');
  t.ok(order.indexOf('timer') > 0 && order.indexOf('timer') < order.indexOf('step 3'), `a timer ran between slices: ${order.join(', ')}`);
});

t.test('a step done at once costs no wait', async (t) => {
  let calls = 0;
  await runPaced(() => { calls++; return true; });
  t.equal(calls, 1);
});
