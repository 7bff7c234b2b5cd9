// `kts lab up --nodes 2` as a user runs it (the real CLI, detached processes), then the real kubectl against
// the kubeconfig it wrote: both nodes Ready, a pod pinned to each node Running, a Service with an
// EndpointSlice written here (no endpointslice controller yet) -> curl to the ClusterIP from node 1 reaches
// the pod on node 2. Then `kts lab down`, and nothing of the lab is left. Names and ranges are random so
// this never meets a user's lab or another test.
import t from 'tap';
import type { Test } from 'tap';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { BUSYBOX_IMAGE } from '../../../agent/images/build.ts';
import { processStartTime } from '../../../lab/process.ts';
import type { LabState } from '../../../lab/state.ts';
import { until } from '../../support/until.ts';

const run = promisify(execFile);
const KTS = path.resolve(import.meta.dirname, '../../../bin/kts');


interface LabNames { work: string; dir: string; prefix: string; bridge: string; nodeCidr: string; podBase: string }

/** Random names and ranges, and a teardown that runs `kts lab down` if the test did not get that far. */
function labNames(t: Test): LabNames {
  const sfx = randomBytes(3).toString('hex');
  const r = randomBytes(3);
  const work = mkdtempSync(path.join(tmpdir(), 'kts-lab-test-'));
  const dir = path.join(work, 'lab');
  t.teardown(async () => {
    if (existsSync(path.join(dir, 'lab.json'))) await run(KTS, ['lab', 'down', '--dir', dir], { timeout: 120_000 }).catch(() => {});
    rmSync(work, { recursive: true, force: true });
  });
  return { work, dir, prefix: `ktl${sfx}`, bridge: `ktl${sfx}`, nodeCidr: `172.${16 + (r[0]! % 16)}.${r[1]!}.0/24`, podBase: `10.${220 + (r[2]! % 30)}` };
}

async function labUp(l: LabNames, ...extra: string[]) {
  return run(KTS, ['lab', 'up', '--dir', l.dir, '--prefix', l.prefix, '--bridge', l.bridge, '--node-cidr', l.nodeCidr,
    '--pod-cidr', `${l.podBase}.0.0/16`, '--apiserver-port', '0', '--etcd-port', '0', '--etcd-peer-port', '0', ...extra],
  { timeout: 300_000 }).catch((err: { stdout?: string; stderr?: string; message: string }) => {
    throw new Error(`kts lab up failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
  });
}

function readLabState(dir: string): LabState {
  return JSON.parse(readFileSync(path.join(dir, 'lab.json'), 'utf8')) as LabState;
}

/** `kts lab down`, then: no process of the recorded PIDs, no netns, link, route, cgroup or file. */
async function downLeavesNothing(t: Test, l: LabNames, processes?: number): Promise<void> {
  const live = readLabState(l.dir);
  const down = await run(KTS, ['lab', 'down', '--dir', l.dir], { timeout: 120_000 });
  const expected = processes ?? 3 + 2 * live.plan.nodes.length;
  t.equal(live.processes.length, expected, 'lab.json recorded every process started');
  t.match(down.stdout, `stopped ${expected} processes`, 'down stops the store, the apiserver, the controller-manager, and containerd and kts agent on each node');
  for (const p of live.processes) t.notOk(processStartTime(p.pid) === p.startTime, `${p.name} (pid ${p.pid}) is gone`);
  t.notMatch((await run('ip', ['netns', 'list'])).stdout, l.prefix, 'no node netns left');
  t.notMatch((await run('ip', ['-o', 'link', 'show'])).stdout, l.bridge, 'no bridge or veth left');
  t.notMatch((await run('ip', ['route', 'show'])).stdout, `${l.podBase}.`, 'no host route to a pod CIDR left');
  for (const n of live.plan.nodes) t.notOk(existsSync(path.join('/sys/fs/cgroup/memory', n.cgroupRoot)), `no cgroup left for ${n.name}`);
  t.notOk(existsSync(l.dir), 'no files left');
}

t.test('kts lab up --nodes 2, pods on both nodes, ClusterIP across nodes, kts lab down leaves nothing', async (t) => {
  const l = labNames(t);
  const { work, dir, prefix, podBase } = l;
  const up = await labUp(l, '--nodes', '2');
  const kubeconfig = path.join(dir, 'admin.kubeconfig');
  t.match(up.stdout, `export KUBECONFIG=${kubeconfig}`, 'up prints the kubeconfig to export');
  const state = readLabState(dir);
  const [n1, n2] = state.plan.nodes;
  t.ok(n1 && n2, 'two nodes planned');
  if (!n1 || !n2) return;
  t.equal(n1.name, `${prefix}-n1`);
  t.equal(n2.podCidr, `${podBase}.2.0/24`);

  const again = await run(KTS, ['lab', 'up', '--dir', dir], { timeout: 60_000 });
  t.match(again.stdout, /already up/, 'a second up says the lab is already up');

  const kubectl = (...args: string[]) =>
    run('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', path.join(work, 'cache'), ...args], { timeout: 60_000 });

  const nodes = await kubectl('get', 'nodes', '-o',
    'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}');
  t.same(nodes.stdout.trim().split('\n').sort(), [`${n1.name}=True`, `${n2.name}=True`], 'both nodes Ready over TLS with the admin cert');

  // The serving certificate is valid for the bridge address and the first service IP, and the `kubernetes`
  // Service leads to the apiserver from inside a node (curl checks the IP SANs against the lab CA).
  const ca = path.join(dir, 'pki', 'ca.crt');
  for (const url of [`https://${state.plan.bridgeIP}:${state.plan.apiserverPort}/readyz`, `https://${state.plan.firstServiceIP}/readyz`]) {
    const ready = await until(`${url} from ${n1.netns}`, async () =>
      (await run('ip', ['netns', 'exec', n1.netns, 'curl', '-sS', '--max-time', '2', '--cacert', ca, url], { timeout: 10_000 })).stdout, 30_000);
    t.equal(ready, 'ok', `${url} answers from node 1 over verified TLS`);
  }

  // The kubelet answers where the Node says it is: InternalIP (inside the node's netns) and daemonEndpoints port.
  const where = (await kubectl('get', 'node', n2.name, '-o',
    'jsonpath={.status.addresses[?(@.type=="InternalIP")].address}:{.status.daemonEndpoints.kubeletEndpoint.Port}')).stdout;
  t.equal(where, `${n2.ip}:${n2.kubeletPort}`, 'node 2 reports its node IP and kubelet port');
  const healthz = await run('curl', ['-sS', '--max-time', '5', '--cacert', ca, `https://${where}/healthz`], { timeout: 10_000 });
  t.equal(healthz.stdout, 'ok', 'the kubelet answers at the address the Node reports, with a certificate from the lab CA');

  const status = await run(KTS, ['lab', 'status', '--dir', dir], { timeout: 60_000 });
  t.match(status.stdout, new RegExp(`agent/${n2.name}\\s+\\d+\\s+alive`), 'status lists the node agent alive');
  t.match(status.stdout, new RegExp(`${n1.name}\\s+Ready`), 'status shows kubectl get nodes');

  // The controller-manager runs: a Deployment gets its ReplicaSet and pods (Pending: there is no scheduler yet).
  await kubectl('create', 'deployment', 'hello', '--image', BUSYBOX_IMAGE, '--replicas', '2');
  const made = await until('the controller-manager to make the deployment\'s pods', async () => {
    const names = (await kubectl('get', 'pods', '-l', 'app=hello', '-o', 'name')).stdout.trim().split('\n').filter(Boolean);
    return names.length === 2 && names;
  }, 60_000);
  t.equal(made.length, 2, 'the deployment controller and the replica set controller made 2 pods');
  await kubectl('delete', 'deployment', 'hello');

  // Service account tokens are signed with the lab's key pair (pki/sa.key): a token made by kubectl authenticates.
  await kubectl('create', 'serviceaccount', 'robot');
  const token = (await kubectl('create', 'token', 'robot')).stdout.trim();
  const noCreds = path.join(work, 'empty.kubeconfig');
  writeFileSync(noCreds, '');
  const who = await run('kubectl', ['--kubeconfig', noCreds, '--server', `https://127.0.0.1:${state.plan.apiserverPort}`,
    '--certificate-authority', path.join(dir, 'pki', 'ca.crt'), '--token', token, 'auth', 'whoami'], { timeout: 60_000 });
  t.match(who.stdout, 'system:serviceaccount:default:robot', 'a token from kubectl create token authenticates');

  const pod = (name: string, node: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, labels: {app: ${name}}}
spec:
  nodeName: ${node}
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    image: ${BUSYBOX_IMAGE}
    imagePullPolicy: IfNotPresent
    command: [httpd, -f, -v, -p, "8080", -h, /www]
    ports: [{name: http, containerPort: 8080}]
`;
  const manifest = path.join(work, 'pods.yaml');
  writeFileSync(manifest, `${pod('web1', n1.name)}---\n${pod('web2', n2.name)}---
apiVersion: v1
kind: Service
metadata: {name: web2}
spec:
  selector: {app: web2}
  ports: [{name: http, port: 80, targetPort: 8080}]
`);
  await kubectl('apply', '-f', manifest);
  const podIP = async (name: string, cidr: string) => until(`${name} Running`, async () => {
    const [phase, ip] = (await kubectl('get', 'pod', name, '-o', 'jsonpath={.status.phase} {.status.podIP}')).stdout.split(' ');
    return phase === 'Running' && ip?.startsWith(cidr.replace(/0\/24$/, '')) && ip;
  }, 90_000);
  const ip1 = await podIP('web1', n1.podCidr);
  const ip2 = await podIP('web2', n2.podCidr);
  t.ok(ip1 && ip2, `pods Running with IPs from their nodes' CIDRs (${ip1}, ${ip2})`);

  const clusterIP = (await kubectl('get', 'service', 'web2', '-o', 'jsonpath={.spec.clusterIP}')).stdout;
  t.match(clusterIP, /^\d+\.\d+\.\d+\.\d+$/, 'a ClusterIP was allocated');
  const slice = path.join(work, 'slice.yaml');
  writeFileSync(slice, `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web2-1, labels: {kubernetes.io/service-name: web2}}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints: [{addresses: ["${ip2}"], conditions: {ready: true}, nodeName: ${n2.name}}]
`);
  await kubectl('apply', '-f', slice);

  // Node 1's kube-proxy (inside node 1's netns) DNATs to the only endpoint, the pod on node 2 (host-gw route).
  const page = await until('curl from node 1 to the ClusterIP', async () => {
    const res = await run('ip', ['netns', 'exec', n1.netns, 'curl', '-s', '--max-time', '2', `http://${clusterIP}/`], { timeout: 10_000 });
    return /hello from busybox httpd/.test(res.stdout) && res.stdout;
  }, 60_000);
  t.match(page, /hello from busybox httpd/, 'the ClusterIP on node 1 answers from the pod on node 2');
  const direct = await run('ip', ['netns', 'exec', n2.netns, 'curl', '-s', '--max-time', '5', `http://${ip1}:8080/`], { timeout: 10_000 });
  t.match(direct.stdout, /hello from busybox httpd/, 'node 2 reaches the pod on node 1 by its pod IP');


  // Pod to pod across nodes keeps the source address: node 2's httpd logs the client pod's own IP.
  const client = path.join(work, 'client.yaml');
  writeFileSync(client, `apiVersion: v1
kind: Pod
metadata: {name: client1}
spec:
  nodeName: ${n1.name}
  terminationGracePeriodSeconds: 1
  containers:
  - name: wget
    image: ${BUSYBOX_IMAGE}
    imagePullPolicy: IfNotPresent
    command: [sh, -c, "while true; do wget -qO- http://${ip2}:8080/ >/dev/null; sleep 1; done"]
`);
  await kubectl('apply', '-f', client);
  const clientIP = await podIP('client1', n1.podCidr);
  const seen = await until('node 2 httpd to log the client pod', async () => {
    const logs = await readdir(path.join(n2.dir, 'pods'), { recursive: true });
    const file = logs.find((f) => /web2_.*\/httpd\/0\.log$/.test(f));
    const text = file ? readFileSync(path.join(n2.dir, 'pods', file), 'utf8') : '';
    return text.includes(`[::ffff:${clientIP}]`) && text;
  }, 60_000);
  t.match(seen, `${clientIP}]`, 'the pod on node 2 sees the pod on node 1 by its pod IP (no masquerade)');

  await downLeavesNothing(t, l);
});

t.test('kts lab up --store etcd: the cluster state lives in Debian etcd 3.4', async (t) => {
  const l = labNames(t);
  await labUp(l, '--nodes', '1', '--store', 'etcd');
  const state = readLabState(l.dir);
  t.equal(state.plan.options.store, 'etcd');
  const etcd = state.processes.find((p) => p.name === 'etcd');
  t.match(readFileSync(`/proc/${etcd?.pid}/cmdline`, 'utf8'), /^etcd\0/, 'the store process is /usr/bin/etcd');
  const kubeconfig = path.join(l.dir, 'admin.kubeconfig');
  const node = await run('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', path.join(l.work, 'cache'), 'get', 'node', `${l.prefix}-n1`,
    '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'], { timeout: 60_000 });
  t.equal(node.stdout, 'True', 'the node is Ready');
  const keys = await run('etcdctl', ['--endpoints', `127.0.0.1:${state.plan.etcdPort}`, 'get', '--prefix', '--keys-only', '/registry/minions/'],
    { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 30_000 });
  t.match(keys.stdout, `/registry/minions/${l.prefix}-n1`, 'etcdctl finds the Node under /registry');
  await downLeavesNothing(t, l);
});

t.test('an up that fails half-way names the failing component, and down cleans up after it', async (t) => {
  const l = labNames(t);
  // Something else holds the store's port: etcd exits, and up must say so instead of waiting out a timeout.
  const holder = createServer().listen(0, '127.0.0.1');
  await once(holder, 'listening');
  t.teardown(() => holder.close());
  const port = (holder.address() as AddressInfo).port;
  const err = await labUp(l, '--nodes', '1', '--etcd-port', String(port)).then(() => undefined, (e: Error) => e);
  t.ok(err, 'up fails');
  t.match(err?.message, /etcd exited/, 'the error names the store');
  t.match(err?.message, /EADDRINUSE/, 'and shows the end of its log');
  t.match(err?.message, `kts lab down --dir ${l.dir}`, 'and says how to clean up');
  t.ok(existsSync(path.join(l.dir, 'lab.json')), 'what was made is recorded');
  const again = await labUp(l, '--nodes', '1').then(() => undefined, (e: Error) => e);
  t.match(again?.message, /did not finish coming up; run `kts lab down/, 'a second up refuses to build over the half-made lab');
  await downLeavesNothing(t, l, 1);
});
