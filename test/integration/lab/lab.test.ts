// `kts lab up --nodes 2` as a user runs it (the real CLI, detached processes), then the real kubectl against
// the kubeconfig it wrote: both nodes Ready, a pod pinned to each node Running, a Service with an
// EndpointSlice written here (no endpointslice controller yet) -> curl to the ClusterIP from node 1 reaches
// the pod on node 2. Then `kts lab down`, and nothing of the lab is left. Names and ranges are random so
// this never meets a user's lab or another test.
import t from 'tap';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { BUSYBOX_IMAGE } from '../../../agent/images/build.ts';
import { processStartTime } from '../../../lab/process.ts';
import type { LabState } from '../../../lab/state.ts';

const run = promisify(execFile);
const KTS = path.resolve(import.meta.dirname, '../../../bin/kts');

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 90_000): Promise<T> {
  const end = Date.now() + ms;
  let last = '';
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

t.test('kts lab up --nodes 2, pods on both nodes, ClusterIP across nodes, kts lab down leaves nothing', async (t) => {
  const sfx = randomBytes(3).toString('hex');
  const r = randomBytes(3);
  const work = mkdtempSync(path.join(tmpdir(), 'kts-lab-test-'));
  const dir = path.join(work, 'lab');
  const prefix = `ktl${sfx}`;
  const bridge = `ktl${sfx}`;
  const nodeCidr = `172.${16 + (r[0]! % 16)}.${r[1]!}.0/24`;
  const podBase = `10.${220 + (r[2]! % 30)}`;
  t.teardown(async () => {
    if (existsSync(path.join(dir, 'lab.json'))) await run(KTS, ['lab', 'down', '--dir', dir], { timeout: 120_000 }).catch(() => {});
    rmSync(work, { recursive: true, force: true });
  });

  const up = await run(KTS, ['lab', 'up', '--nodes', '2', '--dir', dir, '--prefix', prefix, '--bridge', bridge,
    '--node-cidr', nodeCidr, '--pod-cidr', `${podBase}.0.0/16`, '--apiserver-port', '0', '--etcd-port', '0', '--etcd-peer-port', '0'],
  { timeout: 300_000 }).catch((err: { stdout?: string; stderr?: string; message: string }) => {
    throw new Error(`kts lab up failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
  });
  const kubeconfig = path.join(dir, 'admin.kubeconfig');
  t.match(up.stdout, `export KUBECONFIG=${kubeconfig}`, 'up prints the kubeconfig to export');
  const state = JSON.parse(readFileSync(path.join(dir, 'lab.json'), 'utf8')) as LabState;
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

  const status = await run(KTS, ['lab', 'status', '--dir', dir], { timeout: 60_000 });
  t.match(status.stdout, new RegExp(`kubelet/${n2.name}\\s+\\d+\\s+alive`), 'status lists the kubelet alive');
  t.match(status.stdout, new RegExp(`${n1.name}\\s+Ready`), 'status shows kubectl get nodes');

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
    command: [httpd, -f, -p, "8080", -h, /www]
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
  });
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

  const live = JSON.parse(readFileSync(path.join(dir, 'lab.json'), 'utf8')) as LabState;
  const down = await run(KTS, ['lab', 'down', '--dir', dir], { timeout: 120_000 });
  t.match(down.stdout, /stopped 8 processes/, 'down stops etcd, apiserver and 3 processes per node');

  for (const p of live.processes) t.notOk(processStartTime(p.pid) === p.startTime, `${p.name} (pid ${p.pid}) is gone`);
  const netns = (await run('ip', ['netns', 'list'])).stdout;
  t.notMatch(netns, prefix, 'no node netns left');
  const links = (await run('ip', ['-o', 'link', 'show'])).stdout;
  t.notMatch(links, bridge, 'no bridge or veth left');
  const routes = (await run('ip', ['route', 'show'])).stdout;
  t.notMatch(routes, `${podBase}.`, 'no host route to a pod CIDR left');
  for (const n of live.plan.nodes) t.notOk(existsSync(path.join('/sys/fs/cgroup/memory', n.cgroupRoot)), `no cgroup left for ${n.name}`);
  t.notOk(existsSync(dir), 'no files left');
});
