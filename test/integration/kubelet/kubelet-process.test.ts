// `kts kubelet` as a process, the way systemd runs it: flags plus a KubeletConfiguration file, a kubeconfig,
// the CNI config written by the kubelet from --pod-cidr, a static pod from --pod-manifest-path mirrored
// into the API, READY=1 sent to $NOTIFY_SOCKET, the HTTPS server on --port, and SIGTERM leaves pods running.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { RestClient } from '../../../client/rest.ts';
import { resources } from '../../../client/resources.ts';
import { CriClient } from '../../../agent/cri/client.ts';
import { BUSYBOX_IMAGE } from '../../../agent/images/build.ts';
import { freePort } from '../../../control/apiserver/testing/etcd.ts';
import { startContainerdNode } from '../harness/containerd.ts';
import { startControlPlane } from '../harness/controlplane.ts';
import { until } from '../../support/until.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');


/** A unix datagram socket (python3, since node has none) that appends what it receives to a file. */
function notifyListener(sock: string, out: string): ChildProcess {
  const script = `import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint('up',flush=True)\nwhile True:\n  d=s.recv(4096)\n  open(sys.argv[2],'ab').write(d+b'\\n')\n`;
  return spawn('python3', ['-c', script, sock, out], { stdio: ['ignore', 'pipe', 'inherit'] });
}

t.test('kts kubelet process', async (t) => {
  const [cp, node] = await Promise.all([startControlPlane(), startContainerdNode({ hostRoute: true, writeCni: false })]);
  t.teardown(() => Promise.all([cp.stop(), node.stop()]));
  const client = new RestClient({ server: cp.server, qps: 0 });
  t.teardown(() => client.close());
  const dir = path.join(node.dir, 'kubelet-proc');
  const manifests = path.join(dir, 'manifests');
  mkdirSync(manifests, { recursive: true });
  writeFileSync(path.join(dir, 'kubeconfig'), `apiVersion: v1
kind: Config
clusters: [{name: test, cluster: {server: "${cp.server}"}}]
users: [{name: kubelet, user: {}}]
contexts: [{name: test, context: {cluster: test, user: kubelet}}]
current-context: test
`);
  writeFileSync(path.join(dir, 'config.yaml'), `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
clusterDomain: cluster.local
clusterDNS: [10.96.0.10]
syncFrequency: 2s
nodeStatusUpdateFrequency: 2s
`);
  writeFileSync(path.join(manifests, 'static-web.yaml'), `apiVersion: v1
kind: Pod
metadata: {name: static-web, namespace: kube-system}
spec:
  containers:
  - name: web
    image: ${BUSYBOX_IMAGE}
    imagePullPolicy: IfNotPresent
    command: [httpd, -f, -p, "8080", -h, /www]
`);
  writeFileSync(path.join(manifests, 'broken.yaml'), 'kind: Pod\nmetadata: {}\n');
  const notifySock = path.join(dir, 'notify.sock');
  const notifyOut = path.join(dir, 'notify.out');
  const listener = notifyListener(notifySock, notifyOut);
  t.teardown(() => { listener.kill('SIGKILL'); });
  await new Promise((r) => listener.stdout!.once('data', r));

  const nodeName = `proc-${node.suffix}`;
  const port = await freePort();
  let stderr = '';
  const kubelet = spawn(path.join(ROOT, 'bin/kts'), ['kubelet', '--kubeconfig', path.join(dir, 'kubeconfig'),
    '--config', path.join(dir, 'config.yaml'), '--container-runtime-endpoint', node.endpoint, '--node-ip', node.nodeIP!,
    '--hostname-override', nodeName, '--root-dir', path.join(dir, 'root'), '--pod-logs-dir', path.join(dir, 'pods'),
    '--cgroup-root', node.cgroupParent, '--pod-manifest-path', manifests, '--pod-cidr', node.podCidr,
    '--cni-conf-dir', node.cniConfDir, '--port', String(port), '--address', '127.0.0.1', '--node-labels', 'tier=test'],
  { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NOTIFY_SOCKET: notifySock } });
  kubelet.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-6000); });
  const exited = new Promise<number | null>((r) => kubelet.once('exit', (code) => r(code)));
  t.teardown(async () => {
    if (kubelet.exitCode === null && kubelet.signalCode === null) {
      kubelet.kill('SIGKILL');
      await exited;
    }
  });
  const log = () => stderr;

  await until('READY=1 on NOTIFY_SOCKET', async () => existsSync(notifyOut) && readFileSync(notifyOut, 'utf8').includes('READY=1'), 60_000, log);
  const nodeObj = await client.get<V1Node>({ ...resources.nodes, name: nodeName });
  t.equal(nodeObj.metadata?.labels?.tier, 'test', '--node-labels applied');
  t.equal(nodeObj.spec?.podCIDR, node.podCidr, '--pod-cidr recorded on the node');
  const conflist = JSON.parse(readFileSync(path.join(node.cniConfDir, '10-kts.conflist'), 'utf8'));
  t.equal(conflist.plugins[0].ipam.ranges[0][0].subnet, node.podCidr, 'kubelet wrote the CNI config from --pod-cidr');
  await until('node Ready (containerd picked up the CNI config)', async () => {
    const n = await client.get<V1Node>({ ...resources.nodes, name: nodeName });
    return n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
  }, 60_000, log);

  const mirror = await until('mirror pod Running', async () => {
    const p = await client.get<V1Pod>({ ...resources.pods, namespace: 'kube-system', name: `static-web-${nodeName}` });
    return p.status?.phase === 'Running' && p;
  }, 60_000, log);
  t.ok(mirror.metadata?.annotations?.['kubernetes.io/config.mirror'], 'mirror annotation');
  const res = await fetch(`http://${mirror.status!.podIP}:8080/`, { signal: AbortSignal.timeout(10_000) });
  t.match(await res.text(), /hello from busybox httpd/);
  t.match(stderr, /bad static pod manifest.*broken\.yaml/, 'a broken manifest is logged, not fatal');

  const healthz = await new Promise<string>((resolve, reject) => {
    https.get(`https://127.0.0.1:${port}/healthz`, { rejectUnauthorized: false }, (r) => {
      let b = '';
      r.on('data', (d) => { b += d; });
      r.on('end', () => resolve(b));
    }).on('error', reject);
  });
  t.equal(healthz, 'ok', 'kubelet server answers on --port over HTTPS');
  const scrape = () => new Promise<string>((resolve, reject) => {
    https.get(`https://127.0.0.1:${port}/metrics`, { rejectUnauthorized: false }, (r) => {
      let b = '';
      r.on('data', (d) => { b += d; });
      r.on('end', () => resolve(b));
    }).on('error', reject);
  });
  const metrics = await until('metrics after a relist', async () => {
    const m = await scrape();
    return /kubelet_running_pods 1/.test(m) && /kubelet_running_containers 1/.test(m) && m;
  }, 30_000, log);
  t.match(metrics, /kubelet_runtime_operations_duration_seconds_count\{operation_type="run_pod_sandbox"\} [1-9]/, 'CRI call metrics');

  // SIGTERM stops the kubelet but not the pods (a kubelet restart must not restart workloads).
  kubelet.kill('SIGTERM');
  t.equal(await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running 30 s after SIGTERM'), 30_000))]), 0);
  const cri = new CriClient(node.endpoint);
  t.teardown(() => cri.close());
  const running = await cri.listContainers({ state: { state: 'CONTAINER_RUNNING' } });
  t.ok(running.some((c) => c.metadata.name === 'web'), 'static pod container still running after the kubelet stopped');
});
