// The kubelet against a real containerd in a network namespace (the API side is the in-memory fake, so
// this runs without an API server): a busybox httpd pod becomes Running and Ready and answers on its pod
// IP, a failing liveness probe restarts it, a readiness probe flips Ready, a crashing container backs
// off, a missing image shows ErrImagePull, and deletion removes sandbox and containers.
import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { CriClient } from '../../../agent/cri/client.ts';
import { BUSYBOX_IMAGE } from '../../../agent/images/build.ts';
import { FakeKubeletApi } from '../../../agent/kubelet/fake-api.ts';
import { DEFAULT_KUBELET_CONFIG, Kubelet } from '../../../agent/kubelet/kubelet.ts';
import { KubeletServer } from '../../../agent/kubelet/server.ts';
import { createCA, createServingCert } from '../../../control/pki/index.ts';
import WebSocket from 'ws';
import https from 'node:https';
import { startContainerdNode } from '../harness/containerd.ts';
import { until } from '../../support/until.ts';

function get(url: string, ca: string): Promise<{ code: number; body: string }> {
  return new Promise((resolve, reject) => {
    https.get(url, { ca }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

/** Runs a command over the kubelet's exec WebSocket; returns stdout, stderr and the status channel. */
function wsExec(url: string, ca: string, protocol: string): Promise<{ protocol: string; out: string; err: string; status: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, [protocol], { ca });
    const r = { protocol: '', out: '', err: '', status: '' };
    ws.on('open', () => { r.protocol = ws.protocol; });
    ws.on('message', (d: Buffer) => {
      const ch = d[0];
      const text = d.subarray(1).toString();
      if (ch === 1) r.out += text;
      else if (ch === 2) r.err += text;
      else if (ch === 3) r.status += text;
    });
    ws.on('close', () => resolve(r));
    ws.on('error', reject);
    ws.on('unexpected-response', (_q, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}


function pod(name: string, spec: Partial<V1Pod['spec']>): V1Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', uid: `uid-${name}-${Date.now()}` },
    spec: { nodeName: 'kn', terminationGracePeriodSeconds: 1, containers: [], ...spec } };
}

const httpd = { name: 'web', image: BUSYBOX_IMAGE, imagePullPolicy: 'IfNotPresent', command: ['httpd', '-f', '-p', '8080', '-h', '/www'],
  ports: [{ name: 'http', containerPort: 8080 }] };

t.test('kubelet drives real containerd', async (t) => {
  const node = await startContainerdNode({ hostRoute: true });
  t.teardown(() => node.stop());
  const runtime = new CriClient(node.endpoint);
  const api = new FakeKubeletApi();
  const kubelet = new Kubelet({ api, runtime, config: { ...DEFAULT_KUBELET_CONFIG, nodeName: 'kn', hostname: 'kn', nodeIP: node.nodeIP,
    rootDir: path.join(node.dir, 'kubelet'), logRoot: path.join(node.dir, 'pods'), cgroupRoot: node.cgroupParent,
    plegPeriodMs: 300, resyncPeriodMs: 2000 } });
  t.teardown(async () => {
    await kubelet.stop();
    runtime.close();
  });
  await kubelet.start();
  const ready = api.nodes.get('kn')!.status!.conditions!.find((c) => c.type === 'Ready')!;
  t.equal(ready.status, 'True', 'node Ready with containerd up and CNI configured');
  t.match(api.nodes.get('kn')!.status!.nodeInfo!.containerRuntimeVersion, /^containerd:\/\//);

  await t.test('httpd pod: Running, Ready, answers on its pod IP, logs on disk', async (t) => {
    api.putPod(pod('web', { containers: [{ ...httpd,
      readinessProbe: { httpGet: { path: '/index.html', port: 'http' as unknown as number }, periodSeconds: 1 },
      livenessProbe: { tcpSocket: { port: 8080 as unknown as number }, periodSeconds: 1 } }] }));
    const st = await until('web Ready', () => {
      const s = api.pod('default', 'web')?.status;
      return s?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' && s;
    });
    t.equal(st.phase, 'Running');
    t.equal(st.hostIP, node.nodeIP);
    t.match(st.podIP, new RegExp(`^${node.podCidr.split('.').slice(0, 3).join('\\.')}\\.`));
    t.equal(st.qosClass, 'BestEffort');
    const res = await fetch(`http://${st.podIP}:8080/`, { signal: AbortSignal.timeout(10_000) });
    t.match(await res.text(), /hello from busybox httpd/);
    const inNode = await node.exec('curl', ['-sS', '--max-time', '5', `http://${st.podIP}:8080/`]);
    t.match(inNode.stdout, /hello from busybox httpd/);
    const logDir = readdirSync(path.join(node.dir, 'pods')).find((d) => d.startsWith('default_web_'));
    t.ok(logDir && existsSync(path.join(node.dir, 'pods', logDir, 'web', '0.log')), 'CRI log file under /var/log/pods layout');
    t.ok(existsSync(`/sys/fs/cgroup/memory${node.cgroupParent}/kubepods/besteffort`), 'pod cgroup under the per-QoS parent');
  });

  await t.test('failing liveness probe restarts the container', async (t) => {
    api.putPod(pod('sick', { containers: [{ ...httpd, name: 'sick',
      livenessProbe: { httpGet: { path: '/nope', port: 8080 as unknown as number }, periodSeconds: 1, failureThreshold: 1 } }] }));
    const cs = await until('restart', () => {
      const c = api.pod('default', 'sick')?.status?.containerStatuses?.[0];
      return c && (c.restartCount ?? 0) >= 1 && c;
    });
    t.ok(cs.restartCount! >= 1);
    t.ok(api.events.some((e) => e.reason === 'Unhealthy' && /Liveness probe failed: HTTP probe failed with statuscode: 404/.test(e.message ?? '')));
    t.ok(api.events.some((e) => e.reason === 'Killing'));
  });

  await t.test('readiness probe flips Ready both ways', async (t) => {
    api.putPod(pod('flip', { containers: [{ ...httpd, name: 'flip',
      readinessProbe: { exec: { command: ['cat', '/tmp/ready'] }, periodSeconds: 1 } }] }));
    const readyOf = () => api.pod('default', 'flip')?.status?.conditions?.find((c) => c.type === 'Ready')?.status;
    await until('flip Running', () => api.pod('default', 'flip')?.status?.phase === 'Running');
    t.equal(readyOf(), 'False', 'not ready before the file exists');
    const id = api.pod('default', 'flip')!.status!.containerStatuses![0]!.containerID!.replace('containerd://', '');
    await runtime.execSync(id, ['touch', '/tmp/ready'], 5);
    await until('Ready True', () => readyOf() === 'True');
    await runtime.execSync(id, ['rm', '/tmp/ready'], 5);
    await until('Ready False again', () => readyOf() === 'False');
    t.equal(api.pod('default', 'flip')!.status!.containerStatuses![0]!.restartCount, 0, 'readiness never restarts');
  });

  await t.test('crashing container backs off; missing image and missing command are reported', async (t) => {
    api.putPod(pod('crash', { containers: [{ name: 'c', image: BUSYBOX_IMAGE, command: ['sh', '-c', 'echo dying; exit 3'] }] }));
    api.putPod(pod('noimg', { containers: [{ name: 'x', image: 'localhost/kts/does-not-exist:1' }] }));
    api.putPod(pod('nocmd', { containers: [{ name: 'y', image: BUSYBOX_IMAGE, command: ['/no/such/binary'] }] }));
    const crash = await until('CrashLoopBackOff', () => {
      const c = api.pod('default', 'crash')?.status?.containerStatuses?.[0];
      return c?.state?.waiting?.reason === 'CrashLoopBackOff' && c;
    });
    t.ok(crash.restartCount! >= 1);
    t.equal(crash.lastState?.terminated?.exitCode, 3);
    t.equal(crash.lastState?.terminated?.reason, 'Error');
    const noimg = await until('ErrImagePull', () => {
      const r = api.pod('default', 'noimg')?.status?.containerStatuses?.[0]?.state?.waiting?.reason;
      return (r === 'ErrImagePull' || r === 'ImagePullBackOff') && r;
    });
    t.ok(noimg);
    const nocmd = await until('RunContainerError', () => {
      const w = api.pod('default', 'nocmd')?.status?.containerStatuses?.[0]?.state?.waiting;
      return (w?.reason === 'RunContainerError' || w?.reason === 'CrashLoopBackOff') && w;
    });
    t.ok(nocmd);
    t.equal(api.pod('default', 'web')!.status!.conditions!.find((c) => c.type === 'Ready')!.status, 'True', 'other pods keep running');
  });

  await t.test('kubelet server: healthz, pods, logs (tail, timestamps, follow), exec and port-forward over WebSocket', async (t) => {
    const ca = await createCA('kubelet-test-ca');
    const serving = await createServingCert(ca, { commonName: 'kn', ips: ['127.0.0.1'] });
    const server = new KubeletServer({ kubelet, port: 0, address: '127.0.0.1', tls: { cert: serving.certPem, key: serving.keyPem } });
    const port = await server.listen();
    t.teardown(() => server.close());
    const base = `https://127.0.0.1:${port}`;
    t.same(await get(`${base}/healthz`, ca.certPem), { code: 200, body: 'ok' });
    const pods = JSON.parse((await get(`${base}/pods`, ca.certPem)).body);
    t.ok(pods.items.some((p: V1Pod) => p.metadata?.name === 'web' && p.status?.phase === 'Running'));
    t.match((await get(`${base}/metrics`, ca.certPem)).body, /kubelet_running_pods \d+/);

    api.putPod(pod('talker', { containers: [{ name: 'talk', image: BUSYBOX_IMAGE,
      command: ['sh', '-c', 'echo hello; echo world; sleep 1000'] }] }));
    await until('talker running', () => api.pod('default', 'talker')?.status?.containerStatuses?.[0]?.state?.running);
    const logs = await (async () => {
      for (let i = 0; i < 50; i++) {
        const r = await get(`${base}/containerLogs/default/talker/talk`, ca.certPem);
        if (r.body.includes('world')) return r;
        await new Promise((res) => setTimeout(res, 100));
      }
      return get(`${base}/containerLogs/default/talker/talk`, ca.certPem);
    })();
    t.equal(logs.code, 200);
    t.equal(logs.body, 'hello\nworld\n');
    t.equal((await get(`${base}/containerLogs/default/talker/talk?tailLines=1`, ca.certPem)).body, 'world\n');
    t.match((await get(`${base}/containerLogs/default/talker/talk?timestamps=true`, ca.certPem)).body, /^\d{4}-\d\d-\d\dT\S+ hello\n/);
    const missing = await get(`${base}/containerLogs/default/nope/talk`, ca.certPem);
    t.equal(missing.code, 404);
    t.match(JSON.parse(missing.body).message, /pod "nope" not found/);

    // follow: the response stays open and delivers what the container writes later.
    const id = api.pod('default', 'talker')!.status!.containerStatuses![0]!.containerID!.replace('containerd://', '');
    const followed = await new Promise<string>((resolve, reject) => {
      https.get(`${base}/containerLogs/default/talker/talk?follow=true`, { ca: ca.certPem }, (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
          if (body.includes('later')) { res.destroy(); resolve(body); }
        });
        setTimeout(() => void runtime.execSync(id, ['sh', '-c', 'echo later > /proc/1/fd/1'], 5), 300);
      }).on('error', reject);
    });
    t.match(followed, /hello\nworld\n(.|\n)*later\n/);

    for (const protocol of ['v5.channel.k8s.io', 'v4.channel.k8s.io']) {
      const r = await wsExec(`wss://127.0.0.1:${port}/exec/default/talker/talk?command=sh&command=-c&command=echo%20out;echo%20err%20%3E%262;exit%200&stdout=true&stderr=true`,
        ca.certPem, protocol);
      t.equal(r.protocol, protocol, `negotiated ${protocol}`);
      t.equal(r.out, 'out\n');
      t.equal(r.err, 'err\n');
      t.match(r.status, /Success/);
    }
    // port-forward: channel 0 carries data for the first port; each channel first announces its port (2 bytes LE).
    const forwarded = await new Promise<string>((resolve, reject) => {
      const ws = new WebSocket(`wss://127.0.0.1:${port}/portForward/default/web?ports=8080`, ['v4.channel.k8s.io'], { ca: ca.certPem });
      let data = '';
      let sent = false;
      ws.on('message', (d: Buffer) => {
        if (d[0] === 0 && d.length === 3 && !sent) {
          t.equal(d.readUInt16LE(1), 8080, 'data channel announces the port');
          sent = true;
          ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('GET / HTTP/1.0\r\n\r\n')]));
        } else if (d[0] === 0) {
          data += d.subarray(1).toString();
          if (data.includes('</h1>')) { ws.close(); resolve(data); }
        }
      });
      ws.on('error', reject);
      ws.on('unexpected-response', (_q, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      setTimeout(() => reject(new Error(`port-forward timed out, got ${JSON.stringify(data)}`)), 15_000);
    });
    t.match(forwarded, /hello from busybox httpd/);

    const failing = await wsExec(`wss://127.0.0.1:${port}/exec/default/talker/talk?command=sh&command=-c&command=exit%207&stdout=true`, ca.certPem, 'v4.channel.k8s.io');
    t.match(failing.status, /NonZeroExitCode/);
    t.match(failing.status, /"7"/);
  });

  await t.test('deletion stops and removes sandbox and containers, then the pod object', async (t) => {
    const uid = api.pod('default', 'web')!.metadata!.uid!;
    api.markDeleted('default', 'web', 1);
    await until('pod object deleted', () => !api.pod('default', 'web'));
    const sandboxes = await runtime.listPodSandbox({ label_selector: { 'io.kubernetes.pod.uid': uid } });
    const containers = await runtime.listContainers({ label_selector: { 'io.kubernetes.pod.uid': uid } });
    t.same(sandboxes, []);
    t.same(containers, []);
    t.notOk(existsSync(path.join(node.dir, 'kubelet', 'pods', uid)), 'pod directory removed');
    t.ok(readFileSync(node.logFile, 'utf8').length > 0);
  });
});
