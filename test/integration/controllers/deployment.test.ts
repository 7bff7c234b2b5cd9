// The deployment and replicaset controllers against a real apiserver (over etcd 3.4), run in process by
// startControllerManager. Pods stay Pending (no scheduler or kubelet): the test plays the kubelet by writing
// Ready conditions through pods/status, which is what drives availability and so the rollout.
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import type { CoreV1Event, V1Deployment, V1Lease, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import { RestClient } from '../../../client/rest.ts';
import { resources } from '../../../client/resources.ts';
import { startControllerManager } from '../../../control/controller-manager/index.ts';
import { startControlPlane } from '../harness/controlplane.ts';
import { until } from '../../support/until.ts';

const cp = await startControlPlane();
t.teardown(() => cp.stop());
const client = new RestClient({ server: cp.server, qps: 0 });
t.teardown(() => client.close());
const cm = startControllerManager({ client, leaderElect: false, log: process.env.KTS_TEST_LOG ? (m, f) => console.error(m, JSON.stringify(f)) : () => {} });
t.teardown(() => cm.stop());
await cm.ready;

const ns = `cm-${Math.random().toString(36).slice(2, 8)}`;
await client.create(resources.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });

const deployments = { ...resources.deployments, namespace: ns };
const replicasets = { ...resources.replicasets, namespace: ns };
const pods = { ...resources.pods, namespace: ns };

function deployment(name: string, replicas: number, image: string, extra: Partial<V1Deployment['spec']> = {}): V1Deployment {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name },
    spec: {
      replicas, selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image }] } }, ...extra,
    },
  };
}

const imageOf = (rs: V1ReplicaSet) => rs.spec?.template?.spec?.containers[0]?.image;
const exec = promisify(execFile);
const kubectl = async (args: string[]) => (await exec('kubectl', ['--server', cp.server, '-n', ns, ...args], { timeout: 90_000 })).stdout;
const listPods = async (selector: string) => (await client.list<V1Pod>(pods, { labelSelector: selector })).items;
const listRSs = async (selector: string) => (await client.list<V1ReplicaSet>(replicasets, { labelSelector: selector })).items;
const getD = (name: string) => client.get<V1Deployment>({ ...deployments, name });

/** Play the kubelet: every pod matching the selector that is not Ready yet becomes Running and Ready. */
async function markReady(selector: string): Promise<number> {
  let n = 0;
  for (const p of await listPods(selector)) {
    if (p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) continue;
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    try {
      await client.updateStatus({ ...pods, name: p.metadata!.name! }, {
        ...p, status: { ...p.status, phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now as unknown as Date }] },
      });
      n++;
    } catch { /* changed meanwhile: next round */ }
  }
  return n;
}

t.test('a deployment gets a ReplicaSet and its pods', async (t) => {
  await client.create(deployments, deployment('web', 3, 'nginx:1.25'));
  const [rs] = await until('the ReplicaSet', async () => {
    const l = await listRSs('app=web');
    return l.length === 1 && l;
  });
  const d = await getD('web');
  t.match(rs!.metadata!.name, /^web-[bcdfghjklmnpqrstvwxz2456789]+$/, 'named <deployment>-<hash>');
  const hash = rs!.metadata!.labels!['pod-template-hash'];
  t.equal(rs!.metadata!.name, `web-${hash}`);
  t.equal(rs!.spec!.selector.matchLabels!['pod-template-hash'], hash, 'selector carries the hash');
  t.equal(rs!.metadata!.annotations!['deployment.kubernetes.io/revision'], '1');
  t.equal(rs!.metadata!.annotations!['deployment.kubernetes.io/desired-replicas'], '3');
  t.equal(rs!.metadata!.annotations!['deployment.kubernetes.io/max-replicas'], '4', '3 + 25% surge rounded up');
  t.match(rs!.metadata!.ownerReferences, [{ kind: 'Deployment', name: 'web', uid: d.metadata!.uid, controller: true, blockOwnerDeletion: true }]);

  const ps = await until('3 pods', async () => {
    const l = await listPods('app=web');
    return l.length === 3 && l;
  });
  for (const p of ps) {
    t.match(p.metadata!.name, new RegExp(`^web-${hash}-[a-z0-9]{5}$`));
    t.match(p.metadata!.ownerReferences, [{ kind: 'ReplicaSet', name: rs!.metadata!.name, uid: rs!.metadata!.uid, controller: true, blockOwnerDeletion: true }]);
    t.equal(p.metadata!.labels!['pod-template-hash'], hash);
  }
  const progressing = await until('Progressing NewReplicaSetCreated and revision 1', async () => {
    const x = await getD('web');
    const c = x.status?.conditions?.find((c) => c.type === 'Progressing');
    return x.metadata?.annotations?.['deployment.kubernetes.io/revision'] === '1' && c && x.status?.conditions?.some((c) => c.type === 'Available') && x;
  });
  t.match(progressing.status!.conditions!.find((c) => c.type === 'Available'), { status: 'False', reason: 'MinimumReplicasUnavailable' });

  await until('pods ready', async () => (await markReady('app=web'), (await getD('web')).status?.availableReplicas === 3));
  const done = await until('the rollout complete', async () => {
    const x = await getD('web');
    return x.status?.conditions?.find((c) => c.type === 'Progressing')?.reason === 'NewReplicaSetAvailable' && x;
  });
  t.match(done.status, { replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3, observedGeneration: done.metadata!.generation });
  t.match(done.status!.conditions!.find((c) => c.type === 'Available'), { status: 'True', reason: 'MinimumReplicasAvailable' });
  const rsNow = (await listRSs('app=web'))[0]!;
  t.match(rsNow.status, { replicas: 3, fullyLabeledReplicas: 3, readyReplicas: 3, availableReplicas: 3, observedGeneration: rsNow.metadata!.generation });
});

t.test('a template change rolls to a second ReplicaSet', async (t) => {
  await client.patch({ ...deployments, name: 'web' }, 'strategic', { spec: { template: { spec: { containers: [{ name: 'c', image: 'nginx:1.26' }] } } } });
  // Keep playing the kubelet until the old RS is gone to zero and the new one is complete.
  const final = await until('the rollout to finish', async () => {
    await markReady('app=web');
    const x = await getD('web');
    const rss = await listRSs('app=web');
    const ok = rss.length === 2 && x.status?.observedGeneration === x.metadata!.generation && x.status?.updatedReplicas === 3 && x.status?.replicas === 3 && x.status?.availableReplicas === 3
      && x.status?.conditions?.find((c) => c.type === 'Progressing')?.reason === 'NewReplicaSetAvailable';
    return ok && { x, rss };
  }, 120_000);
  t.equal(final.x.metadata!.annotations!['deployment.kubernetes.io/revision'], '2');
  const byRev = Object.fromEntries(final.rss.map((rs) => [rs.metadata!.annotations!['deployment.kubernetes.io/revision'], rs]));
  t.equal(byRev['1']!.spec!.replicas, 0, 'old RS scaled to zero');
  t.equal(byRev['2']!.spec!.replicas, 3);
  t.equal(imageOf(byRev['2']!), 'nginx:1.26');
  // kubectl reads the same status fields and conditions to decide a rollout is done.
  const status = await kubectl(['rollout', 'status', 'deployment/web', '--timeout=60s']);
  t.match(status, 'deployment "web" successfully rolled out');
  const live = (await listPods('app=web')).filter((p) => !p.metadata?.deletionTimestamp);
  t.equal(live.length, 3);
  t.ok(live.every((p) => p.metadata!.labels!['pod-template-hash'] === byRev['2']!.metadata!.labels!['pod-template-hash']), 'only new pods remain');
});

t.test('scaling up and down, and a deleted pod is replaced', async (t) => {
  await client.patch({ ...deployments, name: 'web' }, 'merge', { spec: { replicas: 5 } });
  const five = await until('5 pods', async () => {
    const l = await listPods('app=web');
    return l.length === 5 && l;
  });
  const rs = (await listRSs('app=web')).find((r) => r.spec!.replicas! > 0)!;
  t.equal(rs.spec!.replicas, 5);
  t.equal(rs.metadata!.annotations!['deployment.kubernetes.io/desired-replicas'], '5');
  const victim = five[0]!.metadata!.name!;
  await client.delete({ ...pods, name: victim });
  const after = await until('a replacement pod', async () => {
    const l = await listPods('app=web');
    return l.length === 5 && !l.some((p) => p.metadata!.name === victim) && l;
  });
  t.equal(after.length, 5);
  await client.patch({ ...deployments, name: 'web' }, 'merge', { spec: { replicas: 2 } });
  await until('2 pods', async () => (await listPods('app=web')).length === 2);
  await until('status says 2', async () => (await getD('web')).status?.replicas === 2);
  t.pass('scaled to 2');
});

t.test('a ReplicaSet adopts a matching orphan and releases a pod whose labels change', async (t) => {
  const orphan: V1Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'stray', labels: { app: 'bare' } }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } };
  await client.create(pods, orphan);
  const rs: V1ReplicaSet = {
    apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'bare' },
    spec: { replicas: 2, selector: { matchLabels: { app: 'bare' } }, template: { metadata: { labels: { app: 'bare' } }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } } },
  };
  const created = await client.create(replicasets, rs);
  const l = await until('2 pods, the orphan adopted', async () => {
    const ps = await listPods('app=bare');
    const stray = ps.find((p) => p.metadata!.name === 'stray');
    return ps.length === 2 && stray?.metadata?.ownerReferences?.[0]?.uid === created.metadata!.uid && ps;
  });
  t.equal(l.filter((p) => p.metadata!.name!.startsWith('bare-')).length, 1, 'one pod created, one adopted');
  await client.patch({ ...pods, name: 'stray' }, 'merge', { metadata: { labels: { app: 'elsewhere' } } });
  const released = await until('the stray pod released', async () => {
    const p = await client.get<V1Pod>({ ...pods, name: 'stray' });
    return !(p.metadata?.ownerReferences ?? []).some((r) => r.uid === created.metadata!.uid) && p;
  });
  t.notOk(released.metadata!.ownerReferences?.length, 'no owner left');
  await until('a replacement for the released pod', async () => (await listPods('app=bare')).length === 2);
  const st = await until('status', async () => {
    const x = await client.get<V1ReplicaSet>({ ...replicasets, name: 'bare' });
    return x.status?.replicas === 2 && x.status?.fullyLabeledReplicas === 2 && x;
  });
  t.equal(st.status!.readyReplicas ?? 0, 0);
});

t.test('Recreate scales the old ReplicaSet to zero before the new one gets pods', async (t) => {
  await client.create(deployments, deployment('rec', 2, 'busybox:1.35', { strategy: { type: 'Recreate' } }));
  await until('2 pods', async () => (await listPods('app=rec')).length === 2);
  await client.patch({ ...deployments, name: 'rec' }, 'strategic', { spec: { template: { spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } } } });
  const rss = await until('two RSs, new one at 2', async () => {
    const l = await listRSs('app=rec');
    return l.length === 2 && l.find((r) => r.metadata!.annotations!['deployment.kubernetes.io/revision'] === '2')?.spec?.replicas === 2 && l;
  });
  const old = rss.find((r) => r.metadata!.annotations!['deployment.kubernetes.io/revision'] === '1')!;
  t.equal(old.spec!.replicas, 0);
  const ps = await until('2 new pods only', async () => {
    const l = await listPods('app=rec');
    return l.length === 2 && l.every((p) => p.spec!.containers[0]!.image === 'busybox:1.36') && l;
  });
  t.equal(ps.length, 2);
});

t.test('paused deployments do not roll; revisionHistoryLimit removes old ReplicaSets', async (t) => {
  await client.create(deployments, deployment('hist', 1, 'busybox:1.30', { revisionHistoryLimit: 1 }));
  for (const v of ['1.31', '1.32']) {
    await until(`rolled before ${v}`, async () => {
      await markReady('app=hist');
      const x = await getD('hist');
      return x.status?.conditions?.find((c) => c.type === 'Progressing')?.reason === 'NewReplicaSetAvailable' && x.status.observedGeneration === x.metadata!.generation;
    }, 120_000);
    await client.patch({ ...deployments, name: 'hist' }, 'strategic', { spec: { template: { spec: { containers: [{ name: 'c', image: `busybox:${v}` }] } } } });
  }
  const rss = await until('history trimmed to one old RS', async () => {
    await markReady('app=hist');
    const l = await listRSs('app=hist');
    return l.length === 2 && l.some((r) => imageOf(r) === 'busybox:1.32' && r.status?.availableReplicas === 1) && l;
  }, 120_000);
  t.same(rss.map((r) => r.metadata!.annotations!['deployment.kubernetes.io/revision']).sort(), ['2', '3'], 'revision 1 deleted');

  await client.patch({ ...deployments, name: 'hist' }, 'merge', { spec: { paused: true } });
  await until('DeploymentPaused', async () => (await getD('hist')).status?.conditions?.find((c) => c.type === 'Progressing')?.reason === 'DeploymentPaused');
  await client.patch({ ...deployments, name: 'hist' }, 'strategic', { spec: { template: { spec: { containers: [{ name: 'c', image: 'busybox:1.33' }] } } } });
  await until('observed', async () => {
    const x = await getD('hist');
    return x.status?.observedGeneration === x.metadata!.generation;
  });
  const paused = await listRSs('app=hist');
  t.notOk(paused.some((r) => imageOf(r) === 'busybox:1.33'), 'no new ReplicaSet while paused');
  t.equal(paused.find((r) => imageOf(r) === 'busybox:1.32')?.spec?.replicas, 1, 'the running one keeps its pod');
  await client.patch({ ...deployments, name: 'hist' }, 'merge', { spec: { paused: false } });
  await until('a third RS after resuming', async () => (await listRSs('app=hist')).some((r) => imageOf(r) === 'busybox:1.33'));
});

t.test('progressDeadlineSeconds: a rollout that makes no progress times out', async (t) => {
  await client.create(deployments, deployment('slow', 1, 'busybox:1.36', { progressDeadlineSeconds: 1 }));
  const x = await until('ProgressDeadlineExceeded', async () => {
    const d = await getD('slow');
    return d.status?.conditions?.find((c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded') && d;
  }, 60_000);
  t.match(x.status!.conditions!.find((c) => c.type === 'Progressing'), { status: 'False', message: /has timed out progressing/ });
});

t.test('with leader election the manager holds the kube-controller-manager Lease', async (t) => {
  const other = startControllerManager({ client, leaderElect: true, identity: 'test-leader', controllers: ['-deployment', '-replicaset'], log: () => {} });
  t.teardown(() => other.stop());
  await other.ready;
  t.ok(other.isLeader());
  const lease = await client.get<V1Lease>({ ...resources.leases, namespace: 'kube-system', name: 'kube-controller-manager' });
  t.equal(lease.spec!.holderIdentity, 'test-leader');
  t.same(other.controllers, []);
});

t.test('minReadySeconds: ready pods count as available only after it', async (t) => {
  await client.create(deployments, deployment('warm', 1, 'busybox:1.36', { minReadySeconds: 3600 }));
  await until('1 pod', async () => (await listPods('app=warm')).length === 1);
  const rs = await until('ready but not available', async () => {
    await markReady('app=warm');
    const l = await listRSs('app=warm');
    return l.length === 1 && l[0]!.status?.readyReplicas === 1 && l[0]!.status?.observedGeneration === l[0]!.metadata!.generation && l[0];
  });
  t.equal(rs.spec!.minReadySeconds, 3600, 'copied from the deployment');
  t.equal(rs.status!.availableReplicas ?? 0, 0, 'ready for less than an hour: not available');
  const d = await until('deployment status', async () => {
    const x = await getD('warm');
    return x.status?.readyReplicas === 1 && x;
  });
  t.equal(d.status!.availableReplicas ?? 0, 0);
  t.equal(d.status!.unavailableReplicas, 1);
  // Lowering minReadySeconds reaches the RS (the deployment controller updates it) and the pod becomes available.
  await client.patch({ ...deployments, name: 'warm' }, 'merge', { spec: { minReadySeconds: 1 } });
  const avail = await until('available', async () => {
    const x = await getD('warm');
    return x.status?.availableReplicas === 1 && x;
  });
  t.match(avail.status!.conditions!.find((c) => c.type === 'Available'), { status: 'True' });
  t.equal((await listRSs('app=warm')).length, 1, 'minReadySeconds is not part of the template: no new RS');
});

t.test('events tell the story', async (t) => {
  const events = await until('ScalingReplicaSet and SuccessfulCreate events', async () => {
    const l = (await client.list<CoreV1Event>({ ...resources.events, namespace: ns })).items;
    return l.some((e) => e.reason === 'ScalingReplicaSet') && l.some((e) => e.reason === 'SuccessfulCreate') && l;
  });
  const scaling = events.find((e) => e.reason === 'ScalingReplicaSet' && e.involvedObject.name === 'web')!;
  t.match(scaling, { type: 'Normal', involvedObject: { kind: 'Deployment' }, source: { component: 'deployment-controller' }, message: /^Scaled (up|down) replica set web-\S+ from \d+ to \d+$/ });
  const created = events.find((e) => e.reason === 'SuccessfulCreate')!;
  t.match(created, { involvedObject: { kind: 'ReplicaSet' }, source: { component: 'replicaset-controller' }, message: /^Created pod: / });
});

t.test('kts controller-manager: flags, /healthz, clean exit on SIGTERM, bad flags named', async (t) => {
  const bin = path.resolve(import.meta.dirname, '../../../bin/kts');
  const child = spawn(bin, ['controller-manager', '--master', cp.server, '--bind-address', '127.0.0.1', '--secure-port', '0',
    '--controllers=*,-deployment,-replicaset,-garbage-collector', '--concurrent-deployment-syncs', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const url = await until('the serving line', () => /"healthz":"(http:[^"]+)"/.exec(out)?.[1], 60_000, () => out);
  t.equal(await (await fetch(url)).text(), 'ok');
  // Leader election is on by default: ready once it holds the Lease (released by the previous test's manager).
  await until('/readyz ok', async () => (await fetch(url.replace('/healthz', '/readyz'))).ok, 60_000, () => out);
  const lease = await client.get<V1Lease>({ ...resources.leases, namespace: 'kube-system', name: 'kube-controller-manager' });
  t.not(lease.spec!.holderIdentity, 'test-leader', 'the process took the Lease over');
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'exits 0 on SIGTERM');
  const released = await client.get<V1Lease>({ ...resources.leases, namespace: 'kube-system', name: 'kube-controller-manager' });
  t.equal(released.spec!.holderIdentity ?? '', '', 'and gives the Lease up');

  const bad = spawn(bin, ['controller-manager', '--master', cp.server, '--controllers=bogus', '--secure-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  bad.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const code = await new Promise<number | null>((r) => bad.once('exit', (c) => r(c)));
  t.not(code, 0);
  t.match(err, /unknown controller\(s\) "bogus"/);
});
