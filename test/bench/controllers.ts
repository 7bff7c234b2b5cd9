// Controller-manager benchmark: a real apiserver over etcd 3.4 (test harness) and the deployment + replicaset
// controllers in process. Measures (1) a Deployment of N replicas until N pods exist and status says so, (2) a
// rolling update of it to a new template with this script playing the kubelet (marking pods Ready), and
// (3) a scale to 2N. No reference kube-controller-manager exists on these machines: figures are absolute, and
// rough when other work shares the two cores.
// Usage: node test/bench/controllers.ts [replicas=100]
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { RestClient } from '../../client/rest.ts';
import { resources } from '../../client/resources.ts';
import { startControllerManager } from '../../control/controller-manager/index.ts';
import { startControlPlane } from '../integration/harness/controlplane.ts';

const N = Number(process.argv[2] ?? 100);
const cp = await startControlPlane();
const client = new RestClient({ server: cp.server, qps: 0 });
const cm = startControllerManager({ client, leaderElect: false, controllers: ['deployment', 'replicaset'], log: () => {} });
await cm.ready;
const ns = 'default';
const deployments = { ...resources.deployments, namespace: ns };
const pods = { ...resources.pods, namespace: ns };

async function waitFor(pred: () => Promise<boolean>, tick?: () => Promise<void>): Promise<void> {
  const end = Date.now() + 600_000;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error('benchmark step did not finish in 10 minutes');
    if (tick) await tick();
    await new Promise((r) => setTimeout(r, 50));
  }
}

const getD = () => client.get<V1Deployment>({ ...deployments, name: 'bench' });
const podList = async () => (await client.list<V1Pod>(pods, { labelSelector: 'app=bench' })).items;

/** The kubelet's part: every pod not yet Ready becomes Running and Ready. */
async function markReady(): Promise<void> {
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  await Promise.all((await podList()).filter((p) => !p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).map((p) =>
    client.updateStatus({ ...pods, name: p.metadata!.name! }, { ...p, status: { ...p.status, phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now as unknown as Date }] } }).catch(() => {})));
}

const done = (d: V1Deployment, n: number) => d.status?.observedGeneration === d.metadata?.generation && d.status?.updatedReplicas === n
  && d.status?.replicas === n && d.status?.availableReplicas === n;

try {
  let t0 = performance.now();
  await client.create(deployments, {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'bench' },
    spec: { replicas: N, selector: { matchLabels: { app: 'bench' } }, template: { metadata: { labels: { app: 'bench' } }, spec: { containers: [{ name: 'c', image: 'busybox:1.35' }] } } },
  });
  await waitFor(async () => (await podList()).length === N && (await getD()).status?.replicas === N);
  const createMs = performance.now() - t0;
  await waitFor(async () => done(await getD(), N), markReady);

  t0 = performance.now();
  await client.patch({ ...deployments, name: 'bench' }, 'strategic', { spec: { template: { spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } } } });
  await waitFor(async () => done(await getD(), N) && (await podList()).length === N, markReady);
  const rollMs = performance.now() - t0;

  t0 = performance.now();
  await client.patch({ ...deployments, name: 'bench' }, 'merge', { spec: { replicas: 2 * N } });
  await waitFor(async () => (await podList()).length === 2 * N && (await getD()).status?.replicas === 2 * N);
  const scaleMs = performance.now() - t0;

  console.log(`deployment of ${N}: ${N} pods created and counted in ${(createMs / 1000).toFixed(2)} s (${(N / (createMs / 1000)).toFixed(0)} pods/s)`);
  console.log(`rolling update of ${N} (25% surge / 25% unavailable, pods marked Ready by the benchmark): ${(rollMs / 1000).toFixed(2)} s`);
  console.log(`scale ${N} -> ${2 * N}: ${(scaleMs / 1000).toFixed(2)} s`);
} finally {
  await cm.stop();
  client.close();
  await cp.stop();
}
