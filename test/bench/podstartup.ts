// Pod startup benchmark: 30 pods created through the API on one node (image already present), time from
// the create call to the pod being Running and Ready as seen through a watch; p50 and p99, printed beside
// the sum of the CRI calls' own durations in the same run (the floor containerd sets), and the RSS.
// Needs root (network namespace, containerd). Run: npm run bench:podstartup [-- --pods N]
import path from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { Informer } from '../../client/informer.ts';
import { RestClient } from '../../client/rest.ts';
import { resources } from '../../client/resources.ts';
import { CriClient } from '../../agent/cri/client.ts';
import { BUSYBOX_IMAGE } from '../../agent/images/build.ts';
import { DEFAULT_KUBELET_CONFIG, Kubelet } from '../../agent/kubelet/kubelet.ts';
import { RestKubeletApi } from '../../agent/kubelet/rest-api.ts';
import { startContainerdNode } from '../integration/harness/containerd.ts';
import { startControlPlane } from '../integration/harness/controlplane.ts';

const argIdx = process.argv.indexOf('--pods');
const N = argIdx > 0 ? Number(process.argv[argIdx + 1]) : 30;

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
const fmt = (ms: number) => `${(ms / 1000).toFixed(3)} s`;

const [cp, node] = await Promise.all([startControlPlane(), startContainerdNode({ hostRoute: true })]);
const cleanup = async () => {
  await Promise.all([cp.stop(), node.stop()]);
};
try {
  const criTotals = new Map<string, { n: number; ms: number }>();
  const runtime = new CriClient(node.endpoint, { onCall: (method, ms) => {
    const e = criTotals.get(method) ?? { n: 0, ms: 0 };
    e.n++;
    e.ms += ms;
    criTotals.set(method, e);
  } });
  const client = new RestClient({ server: cp.server, qps: 0 });
  const nodeName = `bench-${node.suffix}`;
  const kubelet = new Kubelet({ api: new RestKubeletApi(client), runtime, config: { ...DEFAULT_KUBELET_CONFIG, nodeName, hostname: nodeName,
    nodeIP: node.nodeIP, rootDir: path.join(node.dir, 'kubelet'), logRoot: path.join(node.dir, 'pods'), cgroupRoot: node.cgroupParent } });
  await kubelet.start();
  const rssIdle = process.memoryUsage().rss;

  const createdAt = new Map<string, number>();
  const readyAt = new Map<string, number>();
  const informer = new Informer<V1Pod>(client, { ...resources.pods, namespace: 'default' }, { fieldSelector: `spec.nodeName=${nodeName}` });
  let resolveAll!: () => void;
  const allReady = new Promise<void>((r) => { resolveAll = r; });
  const check = (p: V1Pod) => {
    const name = p.metadata!.name!;
    if (readyAt.has(name) || !createdAt.has(name)) return;
    if (p.status?.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) {
      readyAt.set(name, performance.now());
      if (readyAt.size === N && !readyAt.has('solo')) resolveAll();
    }
  };
  informer.addEventHandler({ onAdd: check, onUpdate: (_o, p) => check(p) });
  informer.start();
  await informer.waitForSync();
  // One pod alone first: the kubelet's own overhead over the CRI floor without any queueing.
  const makePod = (name: string) => ({
    apiVersion: 'v1', kind: 'Pod', metadata: { name },
    spec: { nodeName, terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image: BUSYBOX_IMAGE, imagePullPolicy: 'IfNotPresent',
      command: ['sleep', '3600'] }] },
  });
  criTotals.clear();
  const soloName = 'solo';
  createdAt.set(soloName, performance.now());
  await client.create({ ...resources.pods, namespace: 'default' }, makePod(soloName));
  while (!readyAt.has(soloName)) await new Promise((r) => setTimeout(r, 5));
  const solo = readyAt.get(soloName)! - createdAt.get(soloName)!;
  const soloFloor = ['RunPodSandbox', 'CreateContainer', 'StartContainer'].reduce((n, m) => n + (criTotals.get(m)?.ms ?? 0), 0);
  readyAt.delete(soloName);
  createdAt.delete(soloName);
  criTotals.clear();

  const started = performance.now();
  await Promise.all(Array.from({ length: N }, async (_, i) => {
    const name = `bench-${i}`;
    createdAt.set(name, performance.now());
    await client.create({ ...resources.pods, namespace: 'default' }, makePod(name));
  }));
  const timeout = setTimeout(() => resolveAll(), 300_000);
  await allReady;
  clearTimeout(timeout);
  const wall = performance.now() - started;
  const rssBusy = process.memoryUsage().rss;
  const lat = [...readyAt.entries()].map(([n, t]) => t - createdAt.get(n)!).sort((a, b) => a - b);
  const perPod = (m: string) => (criTotals.get(m)?.ms ?? 0) / Math.max(1, criTotals.get(m)?.n ?? 1);
  const floor = perPod('RunPodSandbox') + perPod('CreateContainer') + perPod('StartContainer');

  console.log(`single pod: create -> Ready ${fmt(solo)}; its CRI calls (RunPodSandbox + CreateContainer + StartContainer) ${fmt(soloFloor)}; ratio ${(solo / soloFloor).toFixed(2)}x`);
  console.log(`pod startup, ${N} pods on one node (image present), create -> Running+Ready seen by watch`);
  console.log(`  ready: ${readyAt.size}/${N}   wall: ${fmt(wall)}`);
  console.log(`  p50: ${fmt(pct(lat, 50))}   p99: ${fmt(pct(lat, 99))}   max: ${fmt(lat.at(-1) ?? 0)}`);
  console.log('  CRI calls in the same run (count, total, mean):');
  for (const [m, e] of [...criTotals.entries()].sort((a, b) => b[1].ms - a[1].ms)) {
    console.log(`    ${m.padEnd(18)} ${String(e.n).padStart(4)}  ${fmt(e.ms).padStart(10)}  ${(e.ms / e.n).toFixed(1).padStart(7)} ms`);
  }
  console.log(`  per-pod CRI floor (RunPodSandbox + CreateContainer + StartContainer means): ${fmt(floor)}`);
  console.log(`  p50 / floor: ${(pct(lat, 50) / floor).toFixed(2)}x   p99 / floor: ${(pct(lat, 99) / floor).toFixed(2)}x`);
  console.log(`  upstream SLO p99 <= 5 s: ${pct(lat, 99) <= 5000 ? 'met' : 'missed'};  target p99 <= 1 s: ${pct(lat, 99) <= 1000 ? 'met' : 'missed'}`);
  console.log(`  bench process RSS (kubelet + harness clients): idle ${(rssIdle / 1048576).toFixed(0)} MB, after ${N} pods ${(rssBusy / 1048576).toFixed(0)} MB`);

  await informer.stop();
  await kubelet.stop();
  runtime.close();
  client.close();
} finally {
  await cleanup();
}
