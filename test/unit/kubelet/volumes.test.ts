// Volumes on disk, container mounts, resources and cgroup parents.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, existsSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FakeKubeletApi } from '../../../agent/kubelet/fake-api.ts';
import { prepareVolumes } from '../../../agent/kubelet/volumes.ts';
import { containerConfig } from '../../../agent/kubelet/pod-config.ts';
import { linuxResources, podCgroupParent } from '../../../agent/kubelet/resources.ts';
import { makePod } from './fixtures/helpers.ts';

t.test('emptyDir, hostPath, configMap, secret, downwardAPI and projected', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kts-vol-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const api = new FakeKubeletApi();
  api.configMaps.set('default/cfg', { metadata: { name: 'cfg' }, data: { 'a.conf': 'A', 'b.conf': 'B' } });
  api.secrets.set('default/sec', { metadata: { name: 'sec' }, data: { token: Buffer.from('T').toString('base64') } });
  const pod = makePod('v', { volumes: [
    { name: 'scratch', emptyDir: {} },
    { name: 'host', hostPath: { path: path.join(dir, 'hostdir'), type: 'DirectoryOrCreate' } },
    { name: 'cfg', configMap: { name: 'cfg', items: [{ key: 'a.conf', path: 'conf/a' }] } },
    { name: 'sec', secret: { secretName: 'sec', defaultMode: 0o400 } },
    { name: 'info', downwardAPI: { items: [{ path: 'name', fieldRef: { fieldPath: 'metadata.name' } },
      { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } },
    { name: 'proj', projected: { sources: [{ configMap: { name: 'cfg' } }, { secret: { name: 'sec' } }] } },
  ] }, { labels: { app: 'web' } });
  const vols = await prepareVolumes(pod, { rootDir: dir, api, podIP: '10.0.0.2', hostIP: '192.0.2.1', nodeName: 'n1' });
  t.ok(existsSync(vols.get('scratch')!.hostPath));
  t.ok(statSync(path.join(dir, 'hostdir')).isDirectory(), 'DirectoryOrCreate made the directory');
  t.equal(readFileSync(path.join(vols.get('cfg')!.hostPath, 'conf/a'), 'utf8'), 'A');
  t.notOk(existsSync(path.join(vols.get('cfg')!.hostPath, 'b.conf')), 'only listed items');
  t.equal(readFileSync(path.join(vols.get('sec')!.hostPath, 'token'), 'utf8'), 'T');
  t.equal(statSync(path.join(vols.get('sec')!.hostPath, 'token')).mode & 0o777, 0o400);
  t.equal(readFileSync(path.join(vols.get('info')!.hostPath, 'name'), 'utf8'), 'v');
  t.equal(readFileSync(path.join(vols.get('info')!.hostPath, 'labels'), 'utf8'), 'app="web"');
  t.equal(readFileSync(path.join(vols.get('proj')!.hostPath, 'b.conf'), 'utf8'), 'B');
  t.equal(vols.get('cfg')!.readOnly, true);

  // Changes to the config map reach the volume on the next prepare.
  api.configMaps.set('default/cfg', { metadata: { name: 'cfg' }, data: { 'a.conf': 'A2' } });
  await prepareVolumes(pod, { rootDir: dir, api, podIP: '', hostIP: '', nodeName: 'n1' });
  t.equal(readFileSync(path.join(vols.get('cfg')!.hostPath, 'conf/a'), 'utf8'), 'A2');

  const cfg = containerConfig(pod, { name: 'c', image: 'i', volumeMounts: [
    { name: 'cfg', mountPath: '/etc/app' }, { name: 'scratch', mountPath: '/data', subPath: 'x' }] },
  { kind: 'app', attempt: 0, env: new Map(), volumes: vols, nodeMemoryBytes: 1 });
  t.same(cfg.mounts!.map((m) => [m.container_path, m.readonly]), [['/etc/app', true], ['/data', false]]);
  t.equal(cfg.mounts![1]!.host_path, `${vols.get('scratch')!.hostPath}/x`);
  t.throws(() => containerConfig(pod, { name: 'c', image: 'i', volumeMounts: [{ name: 'ghost', mountPath: '/g' }] },
    { kind: 'app', attempt: 0, env: new Map(), volumes: vols, nodeMemoryBytes: 1 }), /names no volume/);
});

t.test('invalid volumes name the problem', async (t) => {
  const api = new FakeKubeletApi();
  const ctx = { rootDir: '/nonexistent-kts', api, podIP: '', hostIP: '', nodeName: 'n1' };
  await t.rejects(prepareVolumes(makePod('a', { volumes: [{ name: 'x', configMap: { name: 'missing' } }] }), ctx), /configmap "missing" not found/);
  await t.rejects(prepareVolumes(makePod('b', { volumes: [{ name: 'h', hostPath: { path: '/definitely/not/here', type: 'Directory' } }] }), ctx), /not a directory/);
  await t.rejects(prepareVolumes(makePod('c', { volumes: [{ name: 'n', nfs: { server: 's', path: '/p' } }] }), ctx), /unsupported volume type/);
});

t.test('resources: shares, quota, memory and per-QoS cgroup parent', async (t) => {
  const r = linuxResources({ name: 'c', resources: { requests: { cpu: '250m', memory: '64Mi' }, limits: { cpu: '500m', memory: '128Mi' } } }, 'Burstable', 1024 ** 3);
  t.equal(r.cpu_shares, 256);
  t.equal(r.cpu_quota, 50_000);
  t.equal(r.cpu_period, 100_000);
  t.equal(r.memory_limit_in_bytes, 128 * 1024 * 1024);
  t.equal(r.oom_score_adj, 938);
  t.equal(linuxResources({ name: 'c' }, 'BestEffort', 1).cpu_shares, 2);
  const guaranteed = makePod('g', { containers: [{ name: 'c', image: 'i', resources: { limits: { cpu: '1', memory: '1Gi' } } }] });
  t.equal(podCgroupParent('/', guaranteed), '/kubepods/poduid-g');
  t.equal(podCgroupParent('/n1', makePod('b')), '/n1/kubepods/besteffort/poduid-b');
  t.throws(() => linuxResources({ name: 'c', resources: { limits: { cpu: 'lots' } } }, 'Burstable', 1), /invalid cpu quantity "lots"/);
});
