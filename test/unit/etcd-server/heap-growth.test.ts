// The member's heap growth factor, checked in child processes: after a full collection V8 sets the old
// generation's limit to factor x what survived, plus room for the young generation. Two children that keep the
// same objects but ask for different factors must differ in that limit by the difference of the factors times
// what survived; if the setting did not reach V8 at run time, their limits would be equal.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { growHeapInLargerSteps, HEAP_GROWING_PERCENT } from '../../../control/etcd/server/heap-growth.ts';

const moduleUrl = new URL('../../../control/etcd/server/heap-growth.ts', import.meta.url).href;

/** Old-generation limit and surviving bytes after a forced full collection in a child that asked for `percent`. */
function limitAfterFullGc(percent: number): { limit: number; survived: number } {
  const script = `
    import { growHeapInLargerSteps } from ${JSON.stringify(moduleUrl)};
    growHeapInLargerSteps(${percent});
    const kept = [];
    for (let i = 0; i < 400000; i++) kept.push({ i, s: 'k' + i });
    globalThis.gc(); // V8 derives its first limit from its start-up sizes; the factor applies from the next
    globalThis.gc();
    process.stderr.write(String(kept.length));`;
  const out = execFileSync(process.execPath, ['--expose-gc', '--trace-gc-nvp', '--input-type=module', '-e', script],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const last = out.split('\n').filter((l) => l.includes('gc=mc')).at(-1);
  if (!last) throw new Error(`no full collection traced:\n${out}`);
  const field = (name: string) => Number(new RegExp(`\\b${name}=(\\d+)`).exec(last)?.[1]);
  return { limit: field('old_gen_allocation_limit'), survived: field('end_object_size') };
}

t.test('the growth factor reaches V8 at run time', async (t) => {
  const small = limitAfterFullGc(100);
  const large = limitAfterFullGc(HEAP_GROWING_PERCENT);
  t.ok(small.survived > 10e6 && Math.abs(large.survived - small.survived) < 1e6, `both kept about the same (${small.survived}, ${large.survived})`);
  const expected = ((HEAP_GROWING_PERCENT - 100) / 100) * small.survived;
  const got = large.limit - small.limit;
  t.ok(Math.abs(got - expected) < 0.1 * expected, `limits differ by ${got} bytes, about ${expected}`);
});

t.test('a factor that is not a positive integer is refused by name', async (t) => {
  t.throws(() => growHeapInLargerSteps(0), /heap growing percent must be a positive integer, got 0/);
  t.throws(() => growHeapInLargerSteps(2.5), /got 2.5/);
});

