// kubectl logs and kubectl exec through the apiserver to a node's kubelet endpoint. The kubelet here is a stand-in
// HTTPS + WebSocket server speaking the kubelet's paths (/containerLogs, /exec over v5.channel.k8s.io).
import { execFile } from 'node:child_process';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { WebSocketServer } from 'ws';
import { createCA, createServingCert } from '../../control/pki/index.ts';
import { startTestCluster } from '../../control/apiserver/testing/server.ts';

const exec = promisify(execFile);
const c = await startTestCluster();
t.teardown(() => c.stop());

const ca = await createCA('fake-kubelet-ca');
const serving = await createServingCert(ca, { commonName: 'node1' });
const seen: string[] = [];
const kubelet = https.createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
  seen.push(`GET ${req.url}`);
  if (req.url?.startsWith('/containerLogs/default/p1/app')) {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('first line\nsecond line\n');
    return;
  }
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', status: 'Failure', message: `no such thing ${req.url}`, code: 404 }));
});
const wss = new WebSocketServer({ noServer: true, handleProtocols: (protocols) => (protocols.has('v5.channel.k8s.io') ? 'v5.channel.k8s.io' : false) });
kubelet.on('upgrade', (req, socket, head) => {
  seen.push(`UPGRADE ${req.url}`);
  wss.handleUpgrade(req, socket, head, (ws) => {
    const cmd = new URL(req.url!, 'https://x').searchParams.getAll('command').join(' ');
    ws.send(Buffer.concat([Buffer.from([1]), Buffer.from(`ran: ${cmd}\n`)]));
    ws.send(Buffer.concat([Buffer.from([3]), Buffer.from(JSON.stringify({ metadata: {}, status: 'Success' }))]));
    ws.close(1000);
  });
});
await new Promise<void>((r) => kubelet.listen(0, '127.0.0.1', r));
t.teardown(() => new Promise<void>((r) => { wss.close(); kubelet.closeAllConnections(); kubelet.close(() => r()); }));
const port = (kubelet.address() as AddressInfo).port;

const post = async (path: string, obj: object) => {
  const r = await c.request(path, { method: 'POST', body: JSON.stringify(obj), headers: { 'content-type': 'application/json' } });
  if (r.status !== 201) throw new Error(`${path}: ${r.status} ${r.text}`);
};
await post('/api/v1/nodes', { metadata: { name: 'node1' }, status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: port } } } });
await post('/api/v1/namespaces/default/pods', { metadata: { name: 'p1' }, spec: { nodeName: 'node1', containers: [{ name: 'app', image: 'busybox:1.36' }] } });
await post('/api/v1/namespaces/default/pods', { metadata: { name: 'p2' }, spec: { containers: [{ name: 'app', image: 'busybox:1.36' }, { name: 'side', image: 'busybox:1.36' }] } });

const kubectl = async (args: string[]) => {
  try {
    const r = await exec('kubectl', ['--kubeconfig', c.kubeconfigPath, '--cache-dir', join(c.dir, 'cache'), ...args], { timeout: 60_000 });
    return { out: r.stdout, err: r.stderr, code: 0 };
  } catch (e) {
    const x = e as { stdout: string; stderr: string; code: number };
    return { out: x.stdout, err: x.stderr, code: x.code };
  }
};

t.test('kubectl logs is forwarded to the kubelet', async (t) => {
  const r = await kubectl(['logs', 'p1', '--tail=5']);
  t.equal(r.code, 0, r.err);
  t.equal(r.out, 'first line\nsecond line\n');
  t.ok(seen.some((s) => s.startsWith('GET /containerLogs/default/p1/app?') && s.includes('tailLines=5')), 'query passed through');
  const unscheduled = await kubectl(['logs', 'p2', '-c', 'app']);
  t.not(unscheduled.code, 0);
  t.match(unscheduled.err, /does not have a host assigned/);
});

t.test('kubectl exec is relayed over WebSocket v5', async (t) => {
  const r = await kubectl(['exec', 'p1', '--', 'echo', 'hello']);
  t.equal(r.code, 0, r.err);
  t.equal(r.out, 'ran: echo hello\n');
  t.ok(seen.some((s) => s.startsWith('UPGRADE /exec/default/p1/app?') && s.includes('command=echo')));
});
