// The PLEG's relist loop: a stop() that arrives while a relist is still waiting on the runtime ends the loop
// (before, the loop scheduled its next round after that relist and ran forever, keeping the process alive).
import t from 'tap';
import { Pleg } from '../../../agent/kubelet/pleg.ts';
import type { RuntimeInspector } from '../../../agent/kubelet/runtime-state.ts';

t.test('stop during an in-flight relist: no relist after it', async (t) => {
  let relists = 0;
  let release: () => void = () => {};
  const inspector = {
    relistAll: async () => {
      relists++;
      await new Promise<void>((resolve) => { release = resolve; });
      return new Map();
    },
  } as unknown as RuntimeInspector;
  const pleg = new Pleg({ inspector, periodMs: 5, onChange: () => {} });
  pleg.start();
  t.equal(relists, 1, 'the first relist started at once');
  pleg.stop();
  release();
  await new Promise((resolve) => setTimeout(resolve, 50)); // ten periods
  t.equal(relists, 1, 'no relist after stop');
});

t.test('relists every period until stopped', async (t) => {
  let relists = 0;
  const inspector = { relistAll: async () => { relists++; return new Map(); } } as unknown as RuntimeInspector;
  const pleg = new Pleg({ inspector, periodMs: 5, onChange: () => {} });
  pleg.start();
  await new Promise((resolve) => setTimeout(resolve, 60));
  pleg.stop();
  const seen = relists;
  t.ok(seen >= 2, `relisted ${seen} times`);
  await new Promise((resolve) => setTimeout(resolve, 30));
  t.equal(relists, seen, 'none after stop');
});
