// The thin path through every component, driven the way a user drives Kubernetes:
// kubectl (real, 1.32) -> kts apiserver -> etcd; `kts kubelet` (a real process) runs the pod in a real
// containerd inside a node network namespace; kube-proxy programs real iptables in that namespace; curl to
// the Service's ClusterIP from the node reaches the pod. The EndpointSlice is written by the test with
// kubectl, because the endpointslice controller belongs to the controllers issue.
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { BUSYBOX_IMAGE } from '../../../agent/images/build.ts';
import { ApiSource } from '../../../agent/proxy/apisource.ts';
import { defaultConfig, validate } from '../../../agent/proxy/config.ts';
import { netnsExecutor } from '../../../agent/proxy/exec.ts';
import { runProxy } from '../../../agent/proxy/main.ts';
import { RestClient } from '../../../client/index.ts';
import { freePort } from '../../../control/apiserver/testing/etcd.ts';
import { startContainerdNode } from '../harness/containerd.ts';
import { startControlPlane } from '../harness/controlplane.ts';
import { until } from '../../support/until.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../../..');


t.test('kubectl -> apiserver -> kubelet -> containerd -> kube-proxy -> curl on a ClusterIP', async (t) => {
  const [cp, node] = await Promise.all([startControlPlane(), startContainerdNode({ hostRoute: true, writeCni: false })]);
  t.teardown(() => Promise.all([cp.stop(), node.stop()]));
  // The node reaches ClusterIPs only with a route covering the service range (routing precedes OUTPUT DNAT).
  await run('ip', ['-n', node.netns, 'route', 'add', 'default', 'via', node.hostSideIP!]);

  const work = mkdtempSync(path.join(tmpdir(), 'kts-thin-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const kubeconfig = path.join(work, 'kubeconfig');
  writeFileSync(kubeconfig, [
    'apiVersion: v1', 'kind: Config', 'current-context: lab',
    'clusters: [{name: lab, cluster: {server: "' + cp.server + '"}}]',
    'users: [{name: admin, user: {}}]',
    'contexts: [{name: lab, context: {cluster: lab, user: admin}}]', ''].join('\n'));
  const kubectl = (...args: string[]) =>
    run('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', path.join(work, 'cache'), ...args], { timeout: 60_000 });

  // The kubelet as users run it: `kts kubelet` with upstream flags.
  const nodeName = `node-${node.suffix}`;
  const kubelet = spawn(path.join(ROOT, 'bin/kts'), ['kubelet', '--kubeconfig', kubeconfig,
    '--container-runtime-endpoint', node.endpoint, '--node-ip', node.nodeIP!, '--hostname-override', nodeName,
    '--root-dir', path.join(node.dir, 'kubelet'), '--pod-logs-dir', path.join(node.dir, 'pods'),
    '--cgroup-root', node.cgroupParent, '--pod-cidr', node.podCidr, '--cni-conf-dir', node.cniConfDir,
    '--address', '127.0.0.1', '--port', String(await freePort())], { stdio: ['ignore', 'ignore', 'pipe'] });
  let kubeletLog = '';
  kubelet.stderr!.on('data', (d: Buffer) => { kubeletLog = (kubeletLog + d.toString()).slice(-6000); });
  t.teardown(async () => {
    if (kubelet.exitCode !== null || kubelet.signalCode !== null) return;
    const exited = new Promise((r) => kubelet.once('exit', r));
    kubelet.kill('SIGTERM');
    const timer = setTimeout(() => kubelet.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  });

  await until('node Ready', async () =>
    (await kubectl('get', 'node', nodeName, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')).stdout === 'True',
  90_000, () => kubeletLog);

  const manifest = path.join(work, 'web.yaml');
  writeFileSync(manifest, `apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  nodeName: ${nodeName}
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    image: ${BUSYBOX_IMAGE}
    imagePullPolicy: IfNotPresent
    command: [httpd, -f, -p, "8080", -h, /www]
    ports: [{name: http, containerPort: 8080}]
    readinessProbe: {httpGet: {path: /, port: http}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
`);
  const applied = await kubectl('apply', '-f', manifest);
  t.match(applied.stdout, /pod\/web created/);
  t.match(applied.stdout, /service\/web created/);

  const podIP = await until('pod Running and Ready', async () => {
    const out = (await kubectl('get', 'pod', 'web', '-o',
      'jsonpath={.status.phase} {.status.conditions[?(@.type=="Ready")].status} {.status.podIP}')).stdout.split(' ');
    return out[0] === 'Running' && out[1] === 'True' && out[2];
  }, 90_000, () => kubeletLog);
  t.match(podIP, new RegExp(`^${node.podCidr.split('.').slice(0, 3).join('\\.')}\\.\\d+$`), 'pod IP from the node pod CIDR');
  const table = (await kubectl('get', 'pods', '-o', 'wide')).stdout;
  t.match(table, new RegExp(`web\\s+1/1\\s+Running\\s+0\\s+\\S+\\s+${podIP.replace(/\./g, '\\.')}\\s+${nodeName}`), 'kubectl get -o wide row');

  const clusterIP = (await kubectl('get', 'service', 'web', '-o', 'jsonpath={.spec.clusterIP}')).stdout;
  t.match(clusterIP, /^\d+\.\d+\.\d+\.\d+$/, 'a ClusterIP was allocated');
  const slice = path.join(work, 'slice.yaml');
  writeFileSync(slice, `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints: [{addresses: ["${podIP}"], conditions: {ready: true}, nodeName: ${nodeName}}]
`);
  await kubectl('apply', '-f', slice);

  // kube-proxy for this node, programming iptables inside the node's network namespace.
  const client = new RestClient({ server: cp.server, qps: 0 });
  t.teardown(() => client.close());
  const cfg = validate({ ...defaultConfig, hostnameOverride: nodeName, clusterCIDR: '10.0.0.0/8',
    healthzBindAddress: '127.0.0.1:0', metricsBindAddress: '127.0.0.1:0', minSyncPeriodMs: 100 });
  const proxy = await runProxy(cfg, { source: new ApiSource(client), exec: netnsExecutor(node.netns), log: pino({ level: 'silent' }) });
  t.teardown(() => proxy.stop());

  const page = await until('curl to the ClusterIP', async () => {
    const r = await node.exec('curl', ['-s', '--max-time', '2', `http://${clusterIP}/`]);
    return /hello from busybox httpd/.test(r.stdout) && r.stdout;
  }, 30_000);
  t.match(page, /hello from busybox httpd/, 'the ClusterIP answers from the pod');

  // Deleting through kubectl stops the pod in containerd and removes it from the API.
  await kubectl('delete', 'pod', 'web', '--grace-period=1', '--wait=true', '--timeout=60s');
  const left = await until('sandbox gone from containerd', async () => {
    const ctr = await run('ctr', ['-a', node.socket, '-n', 'k8s.io', 'containers', 'ls', '-q']);
    return ctr.stdout.trim() === '' && 'empty';
  }, 60_000);
  t.equal(left, 'empty');
});
