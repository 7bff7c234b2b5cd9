// kubectl port-forward (real kubectl 1.32) -> kts apiserver -> `kts kubelet` -> containerd's streaming server ->
// busybox httpd in a pod running in real containerd inside a node network namespace. kubectl's default is SPDY
// tunnelled in WebSocket (the apiserver turns it into a SPDY upgrade to the kubelet); with
// KUBECTL_PORT_FORWARD_WEBSOCKETS=false it sends the SPDY upgrade itself, which is relayed as is.
import t from 'tap';
import type { Test } from 'tap';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { BUSYBOX_IMAGE } from '../../agent/images/build.ts';
import { freePort } from '../../control/apiserver/testing/etcd.ts';
import { startContainerdNode } from '../integration/harness/containerd.ts';
import { startControlPlane } from '../integration/harness/controlplane.ts';
import { until } from '../support/until.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/** Direct children of a process (the kubectl dispatcher runs the versioned kubectl as its child). */
async function childrenOf(pid: number): Promise<number[]> {
  const r = await run('pgrep', ['-P', String(pid)]).catch(() => ({ stdout: '' }));
  return r.stdout.split(/\s+/).filter(Boolean).map(Number);
}

async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

const [cp, node] = await Promise.all([startControlPlane(), startContainerdNode({ hostRoute: true, writeCni: false })]);
t.teardown(() => Promise.all([cp.stop(), node.stop()]));

const work = mkdtempSync(path.join(tmpdir(), 'kts-pf-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const kubeconfig = path.join(work, 'kubeconfig');
writeFileSync(kubeconfig, [
  'apiVersion: v1', 'kind: Config', 'current-context: lab',
  `clusters: [{name: lab, cluster: {server: "${cp.server}"}}]`,
  'users: [{name: admin, user: {}}]',
  'contexts: [{name: lab, context: {cluster: lab, user: admin}}]', ''].join('\n'));
const kubectlArgs = (args: string[]) => ['--kubeconfig', kubeconfig, '--cache-dir', path.join(work, 'cache'), ...args];
const kubectl = (...args: string[]) => run('kubectl', kubectlArgs(args), { timeout: 60_000 });

const nodeName = `node-${node.suffix}`;
// The apiserver dials the kubelet at the node's InternalIP: the kubelet runs on the host, so it serves and reports
// the host side of the node link (the node's own address lives inside the netns, where containerd streams).
const kubeletPort = await freePort();
const kubelet = spawn(path.join(ROOT, 'bin/kts'), ['kubelet', '--kubeconfig', kubeconfig,
  '--container-runtime-endpoint', node.endpoint, '--node-ip', node.hostSideIP!, '--hostname-override', nodeName,
  '--root-dir', path.join(node.dir, 'kubelet'), '--pod-logs-dir', path.join(node.dir, 'pods'),
  '--cgroup-root', node.cgroupParent, '--pod-cidr', node.podCidr, '--cni-conf-dir', node.cniConfDir,
  '--address', node.hostSideIP!, '--port', String(kubeletPort)], { stdio: ['ignore', 'ignore', 'pipe'] });
let kubeletLog = '';
kubelet.stderr!.on('data', (d: Buffer) => { kubeletLog = (kubeletLog + d.toString()).slice(-6000); });
t.teardown(() => stopChild(kubelet));

await until('node Ready', async () =>
  (await kubectl('get', 'node', nodeName, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')).stdout === 'True',
120_000, () => kubeletLog);

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
    command: [httpd, -f, -p, "80", -h, /www]
    ports: [{name: http, containerPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 8080, targetPort: http}]
`);
await kubectl('apply', '-f', manifest);
await until('pod Running', async () =>
  (await kubectl('get', 'pod', 'web', '-o', 'jsonpath={.status.phase}')).stdout === 'Running', 120_000, () => kubeletLog);

interface Forward { child: ChildProcess; localPort: number; out: () => string; err: () => string }

/** Starts `kubectl port-forward <what> <local>:<remote>` and waits until it says it forwards to the pod's `podPort`. */
async function portForward(t: Test, what: string, remote: number, env: Record<string, string> = {}, verbosity = 0,
  podPort = remote): Promise<Forward> {
  const localPort = await freePort();
  const args = kubectlArgs(['port-forward', what, `${localPort}:${remote}`, '--address', '127.0.0.1', ...(verbosity ? [`-v=${verbosity}`] : [])]);
  const child = spawn('kubectl', args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-20_000); });
  t.teardown(() => stopChild(child));
  await until(`kubectl port-forward ${what} forwarding`, () => {
    if (child.exitCode !== null) throw new Error(`kubectl exited ${child.exitCode}: ${err}`);
    return out.includes(`Forwarding from 127.0.0.1:${localPort} -> ${podPort}`);
  }, 60_000, () => err);
  return { child, localPort, out: () => out, err: () => err };
}

const curl = async (port: number) => {
  try {
    return { ...(await run('curl', ['-sS', '--max-time', '20', `http://127.0.0.1:${port}/`], { timeout: 30_000 })), code: 0 };
  } catch (e) {
    const x = e as { stdout: string; stderr: string; code: number };
    return { stdout: x.stdout ?? '', stderr: x.stderr ?? '', code: x.code ?? 1 };
  }
};

t.test('port-forward pod/web over SPDY in WebSocket: two requests on one connection', async (t) => {
  const pf = await portForward(t, 'pod/web', 80, {}, 6);
  const first = await curl(pf.localPort);
  t.equal(first.code, 0, first.stderr);
  t.match(first.stdout, /hello from busybox httpd/);
  const second = await curl(pf.localPort);
  t.equal(second.code, 0, second.stderr);
  t.match(second.stdout, /hello from busybox httpd/, 'a second stream pair on the same connection');
  t.match(pf.err(), /GET http:\/\/127\.0\.0\.1:\d+\/api\/v1\/namespaces\/default\/pods\/web\/portforward 101/, 'kubectl upgraded a WebSocket GET');
  t.notMatch(pf.err(), /POST .*portforward/, 'no fallback to a SPDY POST');
  t.equal(pf.child.exitCode, null, 'kubectl keeps forwarding');
});

t.test('port-forward svc/web forwards to the pod behind the Service', async (t) => {
  // kubectl resolves the Service port to the pod's container port (targetPort "http" -> 80) itself.
  const pf = await portForward(t, 'svc/web', 8080, {}, 0, 80);
  const page = await curl(pf.localPort);
  t.equal(page.code, 0, page.stderr);
  t.match(page.stdout, /hello from busybox httpd/);
});

t.test('the SPDY fallback (KUBECTL_PORT_FORWARD_WEBSOCKETS=false) is relayed too', async (t) => {
  const pf = await portForward(t, 'pod/web', 80, { KUBECTL_PORT_FORWARD_WEBSOCKETS: 'false' }, 6);
  for (const n of [1, 2]) {
    const page = await curl(pf.localPort);
    t.equal(page.code, 0, page.stderr);
    t.match(page.stdout, /hello from busybox httpd/, `request ${n}`);
  }
  t.match(pf.err(), /POST http:\/\/127\.0\.0\.1:\d+\/api\/v1\/namespaces\/default\/pods\/web\/portforward 101/, 'kubectl sent the SPDY upgrade itself');
});

t.test('a port with nothing listening: kubectl reports the error, the daemons keep serving', async (t) => {
  const pf = await portForward(t, 'pod/web', 81);
  const exited = new Promise<number | null>((r) => pf.child.once('exit', (code) => r(code)));
  const refused = await curl(pf.localPort);
  t.not(refused.code, 0, 'no page from a closed port');
  const said = await until('kubectl reports the forwarding error', () =>
    /error forwarding port 81/.test(pf.err()) && pf.err(), 30_000, () => pf.err());
  t.match(said, /an error occurred forwarding \d+ -> 81: error forwarding port 81 to pod .*connection refused/,
    'the runtime\'s error reaches kubectl on the error stream');
  // kubectl 1.32 (client-go portforward.go) closes the connection after a stream error and exits with
  // "lost connection to pod", against any apiserver: it ends on its own, not by a crash of ours.
  t.equal(await exited, 1, 'kubectl exits with status 1');
  t.match(pf.err(), /error: lost connection to pod/);
  t.ok(alive(cp.apiserverPid), 'apiserver alive');
  t.equal(kubelet.exitCode, null, 'kubelet alive');
  const again = await portForward(t, 'pod/web', 80);
  const page = await curl(again.localPort);
  t.match(page.stdout, /hello from busybox httpd/, 'a new port-forward works afterwards');
});

for (const [mode, env] of [['SPDY in WebSocket', {}], ['SPDY fallback', { KUBECTL_PORT_FORWARD_WEBSOCKETS: 'false' }]] as const) {
  t.test(`SIGTERM to kubectl port-forward (${mode}) leaves no stray process or connection`, async (t) => {
    // The tunnel's hops: apiserver -> kubelet, and kubelet -> containerd's streaming server (on the node IP).
    const established = async (filter: string) => (await run('ss', ['-Htn', 'state', 'established', filter])).stdout.trim();
    const toKubelet = `( dport = :${kubeletPort} )`;
    const toRuntime = `( dst ${node.nodeIP} )`;
    await until('earlier tunnels closed', async () => (await established(toKubelet)) === '' && (await established(toRuntime)) === '', 30_000);
    const pf = await portForward(t, 'pod/web', 80, env);
    t.match((await curl(pf.localPort)).stdout, /hello from busybox httpd/, 'forwarding');
    t.not(await established(toKubelet), '', 'apiserver -> kubelet connection while forwarding');
    t.not(await established(toRuntime), '', 'kubelet -> streaming server connection while forwarding');
    const pid = pf.child.pid!;
    const family = [pid, ...await childrenOf(pid)];
    const exited = new Promise((r) => pf.child.once('exit', r));
    process.kill(pid, 'SIGTERM');
    await exited;
    await until('kubectl and its children gone', () => family.every((p) => !alive(p)), 30_000, () => `still alive: ${family.filter(alive)}`);
    t.ok(family.every((p) => !alive(p)), `no process left of ${family.join(', ')}`);
    const closed = await curl(pf.localPort);
    t.not(closed.code, 0, 'the local port is closed');
    t.equal(await until('no apiserver -> kubelet connection left', async () => (await established(toKubelet)) === '' && 'none', 30_000), 'none', 'apiserver -> kubelet connection closed');
    t.equal(await until('no kubelet -> streaming server connection left', async () => (await established(toRuntime)) === '' && 'none', 30_000), 'none', 'kubelet -> streaming server connection closed');
    t.ok(alive(cp.apiserverPid), 'apiserver alive');
    t.equal(kubelet.exitCode, null, 'kubelet alive');
  });
}

t.test('the same SPDY relay serves kubectl exec\'s SPDY fallback (KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false)', async (t) => {
  const r = await run('kubectl', kubectlArgs(['exec', 'web', '-v=6', '--', 'sh', '-c', 'echo out; echo err >&2']),
    { timeout: 60_000, env: { ...process.env, KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' } });
  t.equal(r.stdout, 'out\n');
  t.match(r.stderr, /err\n/);
  t.match(r.stderr, /POST http:\/\/127\.0\.0\.1:\d+\/api\/v1\/namespaces\/default\/pods\/web\/exec\?.* 101/, 'kubectl sent a SPDY upgrade');
  const failed = await run('kubectl', kubectlArgs(['exec', 'web', '--', 'sh', '-c', 'exit 3']),
    { timeout: 60_000, env: { ...process.env, KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' } }).then(() => 0, (e: { code: number }) => e.code);
  t.equal(failed, 3, 'the exit code comes back over the SPDY error stream');
});
