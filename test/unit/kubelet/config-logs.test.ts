// KubeletConfiguration and flags, CRI log parsing and formatting, static pod manifests.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseDuration, parseKubeletConfiguration, resolveConfig } from '../../../agent/kubelet/config.ts';
import { formatRecords, parseCriLog, readLog } from '../../../agent/kubelet/logs.ts';
import { isMirrorPod, loadStaticPods, mirrorPod } from '../../../agent/kubelet/static-pods.ts';

t.test('KubeletConfiguration and flags', async (t) => {
  const cfg = parseKubeletConfiguration(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
clusterDNS: [10.96.0.10]
clusterDomain: k.local
staticPodPath: /etc/kubernetes/manifests
nodeStatusUpdateFrequency: 1m30s
port: 10251
`);
  t.same(cfg.clusterDNS, ['10.96.0.10']);
  t.equal(cfg.clusterDomain, 'k.local');
  t.equal(cfg.staticPodPath, '/etc/kubernetes/manifests');
  t.equal(cfg.statusIntervalMs, 90_000);
  t.equal(cfg.port, 10251);
  t.throws(() => parseKubeletConfiguration('kind: Pod\n'), /kind is "Pod", want KubeletConfiguration/);
  t.throws(() => parseKubeletConfiguration('clusterDNS: 10.0.0.1\n'), /clusterDNS must be a list/);
  t.throws(() => parseKubeletConfiguration('syncFrequency: soon\n'), /invalid duration "soon"/);
  t.throws(() => parseKubeletConfiguration(': : :\n  - x'), /not valid YAML/);
  t.equal(parseDuration('500ms', 'x'), 500);

  const dir = mkdtempSync(path.join(os.tmpdir(), 'kts-cfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'c.yaml'), 'kind: KubeletConfiguration\nclusterDomain: from.file\nport: 10260\n');
  const r = resolveConfig({ config: path.join(dir, 'c.yaml'), hostnameOverride: 'Node-A', port: '10270', nodeLabels: 'a=1,b',
    clusterDns: '10.0.0.10, 10.0.0.11', podCidr: '10.244.9.0/24' });
  t.equal(r.nodeName, 'node-a', 'node names are lower-cased');
  t.equal(r.clusterDomain, 'from.file');
  t.equal(r.port, 10270, 'flags win over the file');
  t.same(r.nodeLabels, { a: '1', b: '' });
  t.same(r.clusterDNS, ['10.0.0.10', '10.0.0.11']);
  t.equal(r.containerRuntimeEndpoint, 'unix:///run/containerd/containerd.sock');
  t.throws(() => resolveConfig({ port: '99999' }), /invalid port/);
});

t.test('CRI log lines: partial joins, timestamps, tail, since', async (t) => {
  const raw = [
    '2026-11-23T10:00:00.000000001Z stdout P hel',
    '2026-11-23T10:00:00.000000002Z stdout F lo',
    '2026-11-23T10:00:01.000000000Z stderr F oops',
    'garbage line',
    '2026-11-23T10:00:02.000000000Z stdout F bye',
  ].join('\n');
  const recs = parseCriLog(raw);
  t.same(recs.map((r) => r.text), ['hello', 'oops', 'garbage line', 'bye']);
  t.equal(formatRecords(recs, {}), 'hello\noops\ngarbage line\nbye\n');
  t.equal(formatRecords(recs, { tailLines: 1, timestamps: true }), '2026-11-23T10:00:02.000000000Z bye\n');
  t.equal(formatRecords(recs, { tailLines: 0 }), '');
  t.equal(formatRecords(recs, { sinceMs: Date.parse('2026-11-23T10:00:01Z') }), 'oops\ngarbage line\nbye\n');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kts-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, '0.log'), `${raw}\n2026-11-23T10:00:03Z stdout F half-writ`);
  const r = await readLog(path.join(dir, '0.log'), { limitBytes: 8 });
  t.equal(r.text, 'hello\noo');
  t.equal(r.offset, Buffer.byteLength(`${raw}\n`), 'an incomplete last line is left for follow');
});

t.test('static pod manifests', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kts-static-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'a.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata: {name: etcd, namespace: kube-system}\nspec:\n  containers: [{name: c, image: i}]\n');
  writeFileSync(path.join(dir, 'bad.yaml'), 'apiVersion: v1\nkind: Deployment\nmetadata: {name: x}\n');
  writeFileSync(path.join(dir, 'notes.txt'), 'ignored');
  const first = await loadStaticPods(dir, 'n1');
  t.equal(first.pods.length, 1);
  const pod = first.pods[0]!;
  t.equal(pod.metadata?.name, 'etcd-n1');
  t.equal(pod.spec?.nodeName, 'n1');
  t.equal(pod.metadata?.annotations?.['kubernetes.io/config.source'], 'file');
  t.match(first.errors[0], /bad\.yaml: kind is "Deployment"/);
  t.equal((await loadStaticPods(dir, 'n1')).pods[0]!.metadata?.uid, pod.metadata?.uid, 'same manifest, same uid');
  writeFileSync(path.join(dir, 'a.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata: {name: etcd, namespace: kube-system}\nspec:\n  containers: [{name: c, image: j}]\n');
  t.not((await loadStaticPods(dir, 'n1')).pods[0]!.metadata?.uid, pod.metadata?.uid, 'an edited manifest is a new pod');
  const mirror = mirrorPod(pod);
  t.ok(isMirrorPod(mirror));
  t.notOk(mirror.metadata?.uid);
  t.same(await loadStaticPods(path.join(dir, 'missing'), 'n1'), { pods: [], errors: [] });
});
