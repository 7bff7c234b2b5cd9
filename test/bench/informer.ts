// Informer benchmark: time to sync N pods and to deliver M watch updates, for our informer and for
// @kubernetes/client-node's makeInformer (the reference) against the same in-process fake API server.
// Usage: node test/bench/informer.ts [pods=5000] [updates=5000]   (PAGE=0 lists in one request; default pages of 500)
import { KubeConfig, CoreV1Api, makeInformer } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { RestClient } from '../../client/rest.ts';
import { Informer } from '../../client/informer.ts';
import { FakeApiServer } from '../unit/client/fixtures/fake-apiserver.ts';

const N = Number(process.argv[2] ?? 5000);
const M = Number(process.argv[3] ?? 5000);

const pod = (i: number, gen = 0) => ({
  apiVersion: 'v1', kind: 'Pod',
  metadata: { name: `pod-${i}`, namespace: `ns-${i % 20}`, labels: { app: `app-${i % 50}`, gen: String(gen) } },
  spec: { nodeName: `node-${i % 100}`, containers: [{ name: 'c', image: 'busybox', args: ['sleep', '3600'] }] },
  status: { phase: 'Running', podIP: `10.0.${(i >> 8) & 255}.${i & 255}` },
});

async function until(pred: () => boolean): Promise<void> {
  while (!pred()) await new Promise((r) => setImmediate(r));
}

interface Result { syncMs: number; updatesMs: number; lookupsPerMs: number }

async function run(name: string, impl: (api: FakeApiServer, server: string) => Promise<{ synced: () => boolean; updates: () => number; get: (ns: string, n: string) => unknown; stop: () => Promise<void> }>): Promise<Result> {
  const api = new FakeApiServer();
  const server = await api.start();
  for (let i = 0; i < N; i++) api.put('v1/pods', pod(i));
  const t0 = performance.now();
  const inf = await impl(api, server);
  await until(inf.synced);
  const syncMs = performance.now() - t0;
  await until(() => api.openWatches() === 1);
  const t1 = performance.now();
  for (let i = 0; i < M; i++) api.put('v1/pods', pod(i % N, i + 1));
  await until(() => inf.updates() >= M);
  const updatesMs = performance.now() - t1;
  const t2 = performance.now();
  const LOOKUPS = 200_000;
  for (let i = 0; i < LOOKUPS; i++) {
    const k = i % N;
    if (!inf.get(`ns-${k % 20}`, `pod-${k}`)) throw new Error(`${name}: lookup failed`);
  }
  const lookupsPerMs = LOOKUPS / (performance.now() - t2);
  await inf.stop();
  await api.close();
  return { syncMs, updatesMs, lookupsPerMs };
}

const ours = await run('kts', async (_api, server) => {
  const client = new RestClient({ server, qps: 0 });
  const inf = new Informer<V1Pod>(client, { version: 'v1', resource: 'pods' }, { pageSize: Number(process.env.PAGE ?? 500) });
  let updates = 0;
  inf.addEventHandler({ onUpdate: () => updates++ });
  inf.start();
  return {
    synced: () => inf.hasSynced(), updates: () => updates, get: (ns, n) => inf.store.getByName(ns, n),
    stop: async () => {
      await inf.stop();
      client.close();
    },
  };
});

const reference = await run('client-node', async (_api, server) => {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server, skipTLSVerify: true }], users: [{ name: 'u' }],
    contexts: [{ name: 'c', cluster: 'fake', user: 'u' }], currentContext: 'c',
  });
  const core = kc.makeApiClient(CoreV1Api);
  const inf = makeInformer<V1Pod>(kc, '/api/v1/pods', () => core.listPodForAllNamespaces());
  let updates = 0;
  let synced = false;
  inf.on('update', () => updates++);
  let stopping = false;
  inf.on('error', (err) => { if (!stopping) console.error('client-node informer error:', err); });
  await inf.start();
  synced = true;
  return { synced: () => synced && inf.list().length === N, updates: () => updates, get: (ns, n) => inf.get(n, ns), stop: () => { stopping = true; return inf.stop(); } };
});

const fmt = (n: number) => n.toFixed(1);
console.log(`informer benchmark: ${N} pods listed, ${M} watch updates, 200k keyed lookups`);
console.log(`                      kts      client-node   ratio (client-node / kts)`);
console.log(`sync (ms)        ${fmt(ours.syncMs).padStart(9)} ${fmt(reference.syncMs).padStart(13)}   ${(reference.syncMs / ours.syncMs).toFixed(2)}x`);
console.log(`updates (ms)     ${fmt(ours.updatesMs).padStart(9)} ${fmt(reference.updatesMs).padStart(13)}   ${(reference.updatesMs / ours.updatesMs).toFixed(2)}x`);
console.log(`updates/s        ${fmt(M / ours.updatesMs * 1000).padStart(9)} ${fmt(M / reference.updatesMs * 1000).padStart(13)}`);
console.log(`lookups/ms       ${fmt(ours.lookupsPerMs).padStart(9)} ${fmt(reference.lookupsPerMs).padStart(13)}   ${(ours.lookupsPerMs / reference.lookupsPerMs).toFixed(2)}x (kts / client-node)`);
