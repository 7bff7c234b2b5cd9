import t from 'tap';
import {
  BucketRateLimiter, ItemExponentialRateLimiter, MaxOfRateLimiter, WorkQueue, runWorkers,
} from '../../../client/workqueue.ts';

t.test('an item added many times before it is taken is handed out once, in FIFO order', async (t) => {
  const q = new WorkQueue<string>();
  q.add('a');
  q.add('b');
  q.add('a');
  q.add('c');
  q.add('b');
  t.equal(q.len(), 3);
  t.equal(await q.get(), 'a');
  t.equal(await q.get(), 'b');
  t.equal(await q.get(), 'c');
  t.equal(q.len(), 0);
});

t.test('an item re-added while being processed is queued once, after done()', async (t) => {
  const q = new WorkQueue<string>();
  q.add('a');
  const item = await q.get();
  t.equal(item, 'a');
  q.add('a');
  q.add('a');
  t.equal(q.len(), 0, 'not queued while a worker holds it');
  let second: string | undefined;
  const waiting = q.get().then((v) => (second = v));
  await new Promise((r) => setImmediate(r));
  t.equal(second, undefined, 'a second worker does not get it concurrently');
  q.done('a');
  await waiting;
  t.equal(second, 'a', 'handed out again after done');
  q.done('a');
  t.equal(q.len(), 0, 'only once');
});

t.test('a waiting get() is woken by add()', async (t) => {
  const q = new WorkQueue<string>();
  const got = q.get();
  q.add('x');
  t.equal(await got, 'x');
  q.add('x');
  t.equal(q.len(), 0, 'still processing: held back');
  q.done('x');
  t.equal(q.len(), 1);
});

t.test('shutDown drains queued items, then get() returns undefined; adds are ignored', async (t) => {
  const q = new WorkQueue<string>();
  q.add('a');
  const idle = new WorkQueue<string>();
  const blocked = idle.get();
  idle.shutDown();
  t.equal(await blocked, undefined, 'a blocked get is released');
  q.shutDown();
  t.ok(q.shuttingDown);
  q.add('b');
  t.equal(await q.get(), 'a');
  t.equal(await q.get(), undefined);
});

t.test('shutDownWithDrain waits for in-flight items', async (t) => {
  const q = new WorkQueue<string>();
  q.add('a');
  const item = (await q.get())!;
  let drained = false;
  const drain = q.shutDownWithDrain().then(() => (drained = true));
  await new Promise((r) => setImmediate(r));
  t.notOk(drained);
  q.done(item);
  await drain;
  t.ok(drained);
});

t.test('addAfter: the earliest of several delays wins, and the item appears once', async (t) => {
  const q = new WorkQueue<string>();
  q.addAfter('a', 60_000);
  q.addAfter('a', 1);
  q.addAfter('a', 30_000);
  t.equal(q.len(), 0);
  t.equal(await q.get(), 'a');
  q.done('a');
  q.shutDown(); // clears the remaining timers so the test ends
  t.equal(q.len(), 0);
});

t.test('per-item exponential backoff, forget resets it; max-of combines limiters', async (t) => {
  const r = new ItemExponentialRateLimiter<string>(5, 1000);
  t.same([r.when('a'), r.when('a'), r.when('a'), r.when('b')], [5, 10, 20, 5]);
  t.equal(r.numRequeues('a'), 3);
  for (let i = 0; i < 20; i++) r.when('a');
  t.equal(r.when('a'), 1000, 'capped');
  r.forget('a');
  t.equal(r.numRequeues('a'), 0);
  t.equal(r.when('a'), 5);

  const bucket = new BucketRateLimiter<string>(1, 1);
  t.equal(bucket.when('x'), 0);
  t.ok(bucket.when('y') > 500, 'second in the same instant waits for the bucket');
  const both = new MaxOfRateLimiter<string>(new ItemExponentialRateLimiter(100, 1000), new BucketRateLimiter(1000, 1000));
  t.equal(both.when('z'), 100);
  t.equal(both.numRequeues('z'), 1);
});

t.test('runWorkers retries a failing item rate-limited, forgets it on success, stops on shutdown', async (t) => {
  const q = new WorkQueue<string>(new ItemExponentialRateLimiter(1, 10));
  let attempts = 0;
  const errors: number[] = [];
  const synced: string[] = [];
  let active = 0;
  let maxActive = 0;
  const workers = runWorkers(q, 3, async (key) => {
    active++;
    maxActive = Math.max(maxActive, active);
    await new Promise((r) => setImmediate(r));
    active--;
    if (key === 'flaky' && ++attempts < 3) throw new Error('not yet');
    synced.push(key);
    if (synced.length === 3) q.shutDown();
  }, { onError: (_k, _e, retries) => errors.push(retries) });
  q.add('flaky');
  q.add('x');
  q.add('y');
  await workers;
  t.same(synced.sort(), ['flaky', 'x', 'y']);
  t.equal(attempts, 3);
  t.same(errors, [0, 1], 'retry count grows per failure');
  t.equal(q.numRequeues('flaky'), 0, 'forgotten after success');
  t.ok(maxActive >= 2, 'workers run concurrently');
});

t.test('runWorkers gives up after maxRetries', async (t) => {
  const q = new WorkQueue<string>(new ItemExponentialRateLimiter(1, 1));
  let calls = 0;
  const gaveUp: number[] = [];
  const workers = runWorkers(q, 1, async () => {
    calls++;
    throw new Error('always');
  }, {
    maxRetries: 2,
    onError: (_k, _e, retries) => {
      gaveUp.push(retries);
      if (retries >= 2) setImmediate(() => q.shutDown());
    },
  });
  q.add('bad');
  await workers;
  t.equal(calls, 3, 'first try plus two retries');
  t.equal(q.numRequeues('bad'), 0);
});
