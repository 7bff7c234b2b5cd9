// Garbage collector benchmark: an owner ConfigMap with N dependent ConfigMaps, deleted with each propagation policy;
// time from the DELETE until the collector is done (dependents gone, or orphaned and the owner gone). The reference,
// measured in the same run: the same N ConfigMaps deleted directly by a client with the same concurrency, the least
// the apiserver needs for that many deletes.
// Usage: node test/bench/gc.ts [dependents=300] [workers=5]
import { randomBytes } from 'node:crypto';
import type { V1ConfigMap, V1Namespace } from '@kubernetes/client-node';
import { RestClient } from '../../client/rest.ts';
import { resources } from '../../client/resources.ts';
import { startGarbageCollector } from '../../control/controllers/garbagecollector/standalone.ts';
import { startControlPlane } from '../integration/harness/controlplane.ts';

const N = Number(process.argv[2] ?? 300);
const WORKERS = Number(process.argv[3] ?? 5);

const cp = await startControlPlane();
const client = new RestClient({ server: cp.server, qps: 0 });
const ns = `bench-gc-${randomBytes(3).toString('hex')}`;
await client.create<V1Namespace>(resources.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
const cms = { ...resources.configmaps, namespace: ns };
const gc = startGarbageCollector(client, { workers: WORKERS });
await gc.synced;

async function pool<T>(items: T[], n: number, fn: (x: T) => Promise<unknown>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (i < items.length) await fn(items[i++]!);
  }));
}

async function countSet(set: string): Promise<{ total: number; owned: number }> {
  const list = await client.list<V1ConfigMap>(cms, { labelSelector: `set=${set}` });
  return { total: list.items.length, owned: list.items.filter((c) => c.metadata?.ownerReferences?.length).length };
}

async function waitFor(pred: () => Promise<boolean>): Promise<void> {
  for (let delay = 5; !(await pred()); delay = Math.min(delay * 2, 100)) await new Promise((r) => setTimeout(r, delay));
}

async function makeSet(set: string, owner?: V1ConfigMap): Promise<void> {
  const names = Array.from({ length: N }, (_, i) => `${set}-${i}`);
  await pool(names, 20, (name) => client.create<V1ConfigMap>(cms, {
    apiVersion: 'v1', kind: 'ConfigMap',
    metadata: {
      name, labels: { set },
      ...(owner ? { ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: owner.metadata!.name!, uid: owner.metadata!.uid!, blockOwnerDeletion: true }] } : {}),
    },
  }));
}

async function exists(name: string): Promise<boolean> {
  try {
    await client.get({ ...cms, name });
    return true;
  } catch {
    return false;
  }
}

const results: Record<string, number> = {};

// Reference: the client deletes N objects itself, WORKERS at a time.
await makeSet('ref');
let t0 = performance.now();
await pool(Array.from({ length: N }, (_, i) => `ref-${i}`), WORKERS, (name) => client.delete({ ...cms, name }));
results.reference = performance.now() - t0;

for (const policy of ['Background', 'Foreground', 'Orphan'] as const) {
  const set = policy.toLowerCase();
  const owner = await client.create<V1ConfigMap>(cms, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${set}-owner` } });
  await makeSet(set, owner);
  t0 = performance.now();
  await client.delete({ ...cms, name: `${set}-owner` }, { propagationPolicy: policy });
  if (policy === 'Orphan') await waitFor(async () => !(await exists(`${set}-owner`)) && (await countSet(set)).owned === 0);
  else await waitFor(async () => !(await exists(`${set}-owner`)) && (await countSet(set)).total === 0);
  results[policy] = performance.now() - t0;
}

console.log(`garbage collector, ${N} dependents, ${WORKERS} workers (rough: shared machine)`);
console.log(`  reference: client deletes ${N} objects directly  ${results.reference!.toFixed(0)} ms`);
for (const policy of ['Background', 'Foreground', 'Orphan']) {
  console.log(`  ${policy.padEnd(10)} ${results[policy]!.toFixed(0).padStart(6)} ms  (${(results[policy]! / results.reference!).toFixed(2)}x reference)`);
}

await gc.stop();
client.close();
await cp.stop();
