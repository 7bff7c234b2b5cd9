// BoundedFrequencyRunner: coalesces requests, never runs concurrently, retries failures with backoff.
import t from 'tap';
import { BoundedFrequencyRunner } from '../../../agent/proxy/runner.ts';

const tick = () => new Promise((r) => setTimeout(r, 2));

t.test('requests while a run is in progress coalesce into one more run', async (t) => {
  let running = 0;
  let maxConcurrent = 0;
  let runs = 0;
  let release: () => void = () => {};
  const runner = new BoundedFrequencyRunner(async () => {
    runs++; running++; maxConcurrent = Math.max(maxConcurrent, running);
    await new Promise<void>((r) => { release = r; });
    running--;
  }, { minIntervalMs: 0, maxIntervalMs: 60_000 });
  t.teardown(() => runner.stop());
  runner.start();
  while (runs < 1) await tick();
  runner.run(); runner.run(); runner.run();
  release();
  while (runs < 2) await tick();
  release();
  await runner.idle();
  for (let i = 0; i < 5; i++) await tick();
  t.equal(runs, 2, 'three requests during a run: one more run');
  t.equal(maxConcurrent, 1);
});

t.test('a failing run is retried with doubling delays until it succeeds', async (t) => {
  let runs = 0;
  const delays: string[] = [];
  const runner = new BoundedFrequencyRunner(async () => {
    runs++;
    if (runs < 4) throw new Error('restore failed');
  }, { minIntervalMs: 0, maxIntervalMs: 60_000, backoffMs: 1, onSchedule: (ms, why) => delays.push(`${why} ${ms}`) });
  t.teardown(() => runner.stop());
  runner.start();
  for (let i = 0; i < 500 && runs < 4; i++) await tick();
  await runner.idle();
  t.equal(runs, 4, 'three failures, then the fourth run succeeds');
  t.same(delays, ['retry 1', 'retry 2', 'retry 4', 'periodic 60000']);
});
