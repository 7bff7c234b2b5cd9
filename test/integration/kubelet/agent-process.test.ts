// `kts agent` as a process: the kubelet and kube-proxy in one Node process inside a node's network namespace
// register the node, run a pod to Ready, program the Services chains in that namespace, and both stop on SIGTERM.
import t from 'tap';
import { spawn } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { RestClient } from '../../../client/rest.ts';
import { resources } from '../../../client/resources.ts';
import { BUSYBOX_IMAGE } from '../../../agent/images/build.ts';
import { freePort } from '../../../lab/process.ts';
import { forwardToApiserver } from '../harness/forward.ts';
import { startContainerdNode } from '../harness/containerd.ts';
import { startControlPlane } from '../harness/controlplane.ts';
import { until } from '../../support/until.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');

t.test('kts agent runs the kubelet and kube-proxy in one process', async (t) => {
  const [cp, node] = await Promise.all([startControlPlane(), startContainerdNode({ hostRoute: true, writeCni: false })]);
  t.teardown(() => Promise.all([cp.stop(), node.stop()]));
  const client = new RestClient({ server: cp.server, qps: 0 });
  t.teardown(() => client.close());

  // The netns has its own loopback: forward <host side of the node's link>:<port> to the apiserver.
  const forward = await forwardToApiserver(node.hostSideIP!, new URL(cp.server));
  t.teardown(() => forward.close());
  const server = forward.url;

  const dir = path.join(node.dir, 'agent');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'kubeconfig'), `apiVersion: v1
kind: Config
clusters: [{name: test, cluster: {server: "${server}"}}]
users: [{name: agent, user: {}}]
contexts: [{name: test, context: {cluster: test, user: agent}}]
current-context: test
`);
  const nodeName = `agent-${node.suffix}`;
  const healthzPort = await freePort();
  let log = '';
  const agent = spawn('ip', ['netns', 'exec', node.netns, path.join(ROOT, 'bin/kts'), 'agent',
    '--kubeconfig', path.join(dir, 'kubeconfig'), '--container-runtime-endpoint', node.endpoint, '--node-ip', node.nodeIP!,
    '--hostname-override', nodeName, '--root-dir', path.join(dir, 'root'), '--pod-logs-dir', path.join(dir, 'pods'),
    '--cgroup-root', node.cgroupParent, '--pod-cidr', node.podCidr, '--cni-conf-dir', node.cniConfDir,
    '--address', '127.0.0.1', '--port', String(await freePort()),
    '--',
    '--kubeconfig', path.join(dir, 'kubeconfig'), '--hostname-override', nodeName, '--cluster-cidr', node.podCidr,
    '--healthz-bind-address', `127.0.0.1:${healthzPort}`, '--metrics-bind-address', `127.0.0.1:${await freePort()}`],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (d: Buffer) => { log = (log + d.toString()).slice(-8000); };
  agent.stdout!.on('data', keep);
  agent.stderr!.on('data', keep);
  const exited = new Promise<number | null>((r) => agent.once('exit', (code) => r(code)));
  t.teardown(() => { if (agent.exitCode === null && agent.signalCode === null) agent.kill('SIGKILL'); });
  const running = () => {
    if (agent.exitCode !== null || agent.signalCode !== null) throw new Error(`kts agent exited (${agent.exitCode}):\n${log}`);
  };

  await until('node Ready', async () => {
    running();
    const n = await client.get<V1Node>({ ...resources.nodes, name: nodeName });
    return n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  }, 120_000, () => log);
  t.pass('the kubelet registered the node and reports it Ready');

  await until('kube-proxy synced', async () => {
    running();
    const r = await node.exec('curl', ['-sf', `http://127.0.0.1:${healthzPort}/healthz`]);
    return (JSON.parse(r.stdout) as { lastUpdated: string | null }).lastUpdated !== null;
  }, 120_000, () => log);
  const rules = await node.exec('iptables-save', ['-t', 'nat']);
  t.match(rules.stdout, /:KUBE-SERVICES /, 'kube-proxy wrote its chains into the node\'s namespace');

  await client.create({ ...resources.pods, namespace: 'default' }, {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'sleeper' },
    spec: { nodeName, terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image: BUSYBOX_IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] }] },
  });
  const pod = await until('pod Ready', async () => {
    running();
    const p = await client.get<V1Pod>({ ...resources.pods, namespace: 'default', name: 'sleeper' });
    return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && p;
  }, 120_000, () => log);
  t.equal(pod.status?.phase, 'Running');

  agent.kill('SIGTERM');
  t.equal(await exited, 0, 'SIGTERM stops both cleanly');
});
