// Kubelet wiring against fakes: node registration, lease, pods from the pod source, NotReady with a reason.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FakeRuntime } from '../../../agent/cri/fake.ts';
import { FakeKubeletApi } from '../../../agent/kubelet/fake-api.ts';
import { DEFAULT_KUBELET_CONFIG, Kubelet } from '../../../agent/kubelet/kubelet.ts';
import { pickNodeIP, nodeConditions } from '../../../agent/kubelet/node-status.ts';
import { cniConflist, parseCidr } from '../../../agent/kubelet/cni.ts';
import { makePod } from './fixtures/helpers.ts';
import { until } from '../../support/until.ts';

const facts = { cpuCores: 2, memoryBytes: 4 * 1024 ** 3, ephemeralStorageBytes: 100 * 1024 ** 3, kernelVersion: '6.1.0',
  osImage: 'Debian GNU/Linux 12 (bookworm)', architecture: 'amd64', machineID: 'm', systemUUID: 's', bootID: 'b' };


t.test('registers, heartbeats, runs pods from the source, removes deleted pods', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kts-kl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const api = new FakeKubeletApi();
  const runtime = new FakeRuntime({ images: ['busybox:1'] });
  const kl = new Kubelet({ api, runtime, facts, config: { ...DEFAULT_KUBELET_CONFIG, nodeName: 'n1', hostname: 'n1', nodeIP: '192.0.2.7',
    rootDir: path.join(dir, 'root'), logRoot: path.join(dir, 'logs'), podCIDR: '10.244.3.0/24', cniConfDir: path.join(dir, 'net.d'),
    nodeLabels: { 'node-role.kubernetes.io/worker': '' }, plegPeriodMs: 20, resyncPeriodMs: 200 } });
  api.putPod(makePod('early'));
  await kl.start();
  t.teardown(() => kl.stop());
  const node = api.nodes.get('n1')!;
  t.equal(node.metadata?.labels?.['kubernetes.io/hostname'], 'n1');
  t.equal(node.metadata?.labels?.['node-role.kubernetes.io/worker'], '');
  t.equal(node.status?.capacity?.cpu, '2');
  t.equal(node.status?.capacity?.memory, '4194304Ki');
  t.equal(node.status?.capacity?.pods, '110');
  t.same(node.status?.addresses, [{ type: 'InternalIP', address: '192.0.2.7' }, { type: 'Hostname', address: 'n1' }]);
  t.equal(node.status?.nodeInfo?.containerRuntimeVersion, 'fake://0.0.1');
  t.equal(node.spec?.podCIDR, '10.244.3.0/24');
  t.equal(node.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
  const conflist = JSON.parse(readFileSync(path.join(dir, 'net.d', '10-kts.conflist'), 'utf8'));
  t.equal(conflist.plugins[0].ipam.ranges[0][0].subnet, '10.244.3.0/24');
  t.same(conflist.plugins.map((p: { type: string }) => p.type), ['bridge', 'portmap', 'loopback']);
  await until('lease', () => api.leases.has('kube-node-lease/n1'));
  t.equal(api.leases.get('kube-node-lease/n1')!.spec?.holderIdentity, 'n1');

  await until('early pod running', () => api.pod('default', 'early')?.status?.phase === 'Running');
  api.putPod(makePod('late'));
  await until('late pod running', () => api.pod('default', 'late')?.status?.phase === 'Running');
  api.putPod(makePod('elsewhere', { nodeName: 'n2' }));
  api.markDeleted('default', 'early', 1);
  await until('early pod deleted', () => !api.pod('default', 'early'));
  t.equal([...runtime.sandboxes.values()].filter((s) => s.config.metadata.name === 'early').length, 0);
  t.equal([...runtime.sandboxes.values()].filter((s) => s.config.metadata.name === 'elsewhere').length, 0, 'pods of other nodes are ignored');

  // The runtime going away: NotReady with a reason, then recovery without restarting pods.
  const lateContainer = runtime.containersNamed('app').find((c) => c.status.labels['io.kubernetes.pod.name'] === 'late')!.status.id;
  runtime.down = true;
  await kl.nodeAgent!.updateStatus(true);
  const ready = api.nodes.get('n1')!.status!.conditions!.find((c) => c.type === 'Ready')!;
  t.equal(ready.status, 'False');
  t.match(ready.message, /container runtime is down/);
  await new Promise((r) => setTimeout(r, 100));
  runtime.down = false;
  await kl.nodeAgent!.updateStatus(true);
  t.equal(api.nodes.get('n1')!.status!.conditions!.find((c) => c.type === 'Ready')!.status, 'True');
  await new Promise((r) => setTimeout(r, 300));
  t.equal(runtime.containers.get(lateContainer)?.status.state, 'CONTAINER_RUNNING', 'running pods are not restarted');
  t.equal(runtime.containersNamed('app').filter((c) => c.status.labels['io.kubernetes.pod.name'] === 'late').length, 1);
});

t.test('node conditions name the network problem', async (t) => {
  const conds = nodeConditions({ runtimeReady: true, runtimeMessage: '', networkReady: false,
    networkMessage: 'NetworkReady=false reason:NetworkPluginNotReady message:cni config uninitialized', runtimeVersion: '' }, 0, undefined);
  const ready = conds.find((c) => c.type === 'Ready')!;
  t.equal(ready.status, 'False');
  t.equal(ready.reason, 'KubeletNotReady');
  t.match(ready.message, /network not ready.*cni config uninitialized/);
  t.equal(conds.find((c) => c.type === 'MemoryPressure')!.status, 'False');
});

t.test('node IP choice skips the Vagrant NAT address', async (t) => {
  const nic = (address: string) => ({ address, family: 'IPv4' as const, internal: false, netmask: '255.255.255.0', mac: '', cidr: null });
  t.equal(pickNodeIP(undefined, { eth0: [nic('10.0.2.15')], eth1: [nic('192.168.56.11')] }), '192.168.56.11');
  t.equal(pickNodeIP(undefined, { eth0: [nic('10.0.2.15')] }), '10.0.2.15');
  t.equal(pickNodeIP('1.2.3.4', { eth0: [nic('10.0.2.15')] }), '1.2.3.4');
});

t.test('CNI config from the pod CIDR', async (t) => {
  const c = JSON.parse(cniConflist({ confDir: '/x', podCIDR: '10.244.1.0/24', bridge: 'cni0' }));
  t.equal(c.plugins[0].ipam.ranges[0][0].gateway, '10.244.1.1');
  t.throws(() => parseCidr('10.244.1.0'), /not an IPv4 CIDR/);
  t.throws(() => parseCidr('10.244.1.0/31'), /out of range/);
});

t.test('a restarted kubelet adopts running pods without restarting them', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kts-kl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const api = new FakeKubeletApi();
  const runtime = new FakeRuntime({ images: ['busybox:1'] });
  const config = { ...DEFAULT_KUBELET_CONFIG, nodeName: 'n1', hostname: 'n1', nodeIP: '192.0.2.7', rootDir: path.join(dir, 'root'),
    logRoot: path.join(dir, 'logs'), plegPeriodMs: 20, resyncPeriodMs: 100 };
  api.putPod(makePod('keep'));
  const first = new Kubelet({ api, runtime, facts, config });
  await first.start();
  await until('running', () => api.pod('default', 'keep')?.status?.phase === 'Running');
  await first.stop();
  const before = [...runtime.containers.keys()];
  const sandboxesBefore = [...runtime.sandboxes.keys()];
  const second = new Kubelet({ api, runtime, facts, config });
  await second.start();
  t.teardown(() => second.stop());
  await new Promise((r) => setTimeout(r, 400));
  t.same([...runtime.containers.keys()], before, 'same containers');
  t.same([...runtime.sandboxes.keys()], sandboxesBefore, 'same sandbox');
  t.equal(runtime.containers.get(before[0]!)!.status.state, 'CONTAINER_RUNNING');
  t.equal(api.pod('default', 'keep')!.status!.containerStatuses![0]!.restartCount, 0);
});
