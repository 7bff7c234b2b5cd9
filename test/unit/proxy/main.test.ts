// kts proxy: configuration (file + flags), mode fallback, /healthz and /metrics, with an in-memory event
// source and a fake executor (no root needed).
import t from 'tap';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig, runProxy } from '../../../agent/proxy/main.ts';
import { parseConfigFile, parseDuration, defaultConfig, validate } from '../../../agent/proxy/config.ts';
import { FakeExecutor } from '../../../agent/proxy/exec.ts';
import type { ProxyEventHandlers, ProxySource } from '../../../agent/proxy/proxier.ts';
import { makeService, makeSlice } from '../../../agent/proxy/fixtures.ts';
import { health } from '../../../agent/proxy/server.ts';
import pino from 'pino';

class MemorySource implements ProxySource {
  handlers: ProxyEventHandlers | null = null;
  async start(h: ProxyEventHandlers) { this.handlers = h; h.service(null, makeService({ name: 'web', clusterIP: '10.96.0.10', ports: [{ port: 80 }] })); h.endpointSlice(null, makeSlice({ service: 'web', ports: [{ port: 80 }], endpoints: [{ ip: '10.244.1.2' }] })); h.synced(); }
  async stop() {}
}

const quiet = pino({ level: 'silent' });

t.test('durations and the KubeProxyConfiguration file', async (t) => {
  t.equal(parseDuration('1m30s', 'x'), 90_000);
  t.equal(parseDuration('250ms', 'x'), 250);
  t.throws(() => parseDuration('soon', 'iptables.syncPeriod'), /iptables.syncPeriod: "soon" is not a duration/);
  const c = parseConfigFile(['apiVersion: kubeproxy.config.k8s.io/v1alpha1', 'kind: KubeProxyConfiguration', 'mode: ipvs',
    'clusterCIDR: 10.244.0.0/16', 'clientConnection: {kubeconfig: /etc/kts/proxy.kubeconfig}', 'ipvs: {scheduler: lc, syncPeriod: 45s, minSyncPeriod: 2s}',
    'nodePortAddresses: [10.250.0.0/24]'].join('\n'));
  t.match(c, { mode: 'ipvs', clusterCIDR: '10.244.0.0/16', kubeconfig: '/etc/kts/proxy.kubeconfig', ipvsScheduler: 'lc', syncPeriodMs: 45_000, minSyncPeriodMs: 2000, nodePortAddresses: ['10.250.0.0/24'] });
  t.throws(() => parseConfigFile('kind: KubeletConfiguration'), /kind "KubeletConfiguration"/);
  t.throws(() => validate({ ...defaultConfig, mode: 'userspace' as 'ipvs', clusterCIDR: '10.0.0.0/99' }), /mode: "userspace".*clusterCIDR: "10.0.0.0\/99"/);
});

t.test('flags override the file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kp-cfg-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'c.yaml'), 'kind: KubeProxyConfiguration\nmode: ipvs\nclusterCIDR: 10.244.0.0/16\n');
  const c = await resolveConfig(['--config', join(dir, 'c.yaml'), '--proxy-mode', 'iptables', '--hostname-override', 'n7', '--nodeport-addresses', '10.0.0.0/8,192.168.0.0/16', '--ipvs-scheduler', 'sh']);
  t.match(c, { mode: 'iptables', clusterCIDR: '10.244.0.0/16', hostnameOverride: 'n7', nodePortAddresses: ['10.0.0.0/8', '192.168.0.0/16'], ipvsScheduler: 'sh' });
  await t.rejects(resolveConfig(['--ipvs-scheduler', 'fastest']), /ipvs.scheduler: "fastest"/);
});

t.test('ipvs mode without ip_vs falls back to iptables; /healthz and /metrics answer', async (t) => {
  const exec = new FakeExecutor((c) => c.cmd === 'modprobe' ? { exitCode: 1, stderr: 'Module ip_vs not found' } : undefined);
  const cfg = validate({ ...defaultConfig, mode: 'ipvs', clusterCIDR: '10.244.0.0/16', hostnameOverride: 'n1', healthzBindAddress: '127.0.0.1:0', metricsBindAddress: '127.0.0.1:0', minSyncPeriodMs: 0 });
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => { lines.push(s); } });
  const running = await runProxy(cfg, { source: new MemorySource(), exec, log, ipvsProcFile: '/nonexistent/ip_vs' });
  t.teardown(() => running.stop());
  t.equal(running.mode, 'iptables');
  t.match(lines.join(''), /falling back to iptables mode.*Module ip_vs not found|Module ip_vs not found.*falling back to iptables mode/);
  while (running.proxier.syncCount < 1) await new Promise((r) => setTimeout(r, 5));
  const restore = exec.calls.find((c) => c.cmd.endsWith('-restore'));
  t.match(restore?.input ?? '', /default\/web: cluster IP/, 'the service reached the iptables payload');
  const hz = await fetch(`${running.healthz}/healthz`);
  t.equal(hz.status, 200);
  t.match(await hz.json(), { mode: 'iptables', lastError: null });
  const metrics = await (await fetch(`${running.metrics}/metrics`)).text();
  t.match(metrics, /kubeproxy_sync_proxy_rules_duration_seconds_count 1/);
  t.match(metrics, /kubeproxy_sync_full_proxy_rules_duration_seconds_count 1/);
  t.match(metrics, /kubeproxy_network_programming_duration_seconds_count 1/);
});

t.test('healthz turns 503 when syncs stop succeeding', async (t) => {
  const proxier = { lastSuccess: 1000, lastError: new Error('iptables-restore failed') } as never;
  t.equal(health({ proxier, startedAt: 0, syncPeriodMs: 30_000, mode: 'iptables', now: () => 20_000 }).healthy, true);
  const h = health({ proxier, startedAt: 0, syncPeriodMs: 30_000, mode: 'iptables', now: () => 70_000 });
  t.equal(h.healthy, false);
  t.equal(h.body.lastError, 'iptables-restore failed');
});

t.test('an invalid service is skipped with a Warning event, the others still programmed', async (t) => {
  const exec = new FakeExecutor();
  const posted: { namespace: string; event: import('@kubernetes/client-node').CoreV1Event }[] = [];
  const events = { create: async (namespace: string, event: import('@kubernetes/client-node').CoreV1Event) => { posted.push({ namespace, event }); return event; } };
  const bad = makeService({ namespace: 'shop', name: 'broken', clusterIP: '10.96.0.77', ports: [{ name: 'big', port: 99999 }] });
  class Source extends MemorySource {
    override async start(h: ProxyEventHandlers) { h.service(null, bad); h.service(bad, bad); await super.start(h); }
  }
  const cfg = validate({ ...defaultConfig, hostnameOverride: 'n1', healthzBindAddress: '127.0.0.1:0', metricsBindAddress: '127.0.0.1:0', minSyncPeriodMs: 0 });
  const running = await runProxy(cfg, { source: new Source(), exec, log: quiet, events });
  t.teardown(() => running.stop());
  while (running.proxier.syncCount < 1) await new Promise((r) => setTimeout(r, 5));
  t.equal(posted.length, 1, 'posted once for the same problem');
  t.match(posted[0], { namespace: 'shop', event: { type: 'Warning', reason: 'InvalidService', involvedObject: { kind: 'Service', name: 'broken' }, source: { component: 'kube-proxy', host: 'n1' } } });
  t.match(posted[0]!.event.message, /port 99999 is not in 1-65535/);
  t.match(exec.calls.find((c) => c.cmd.endsWith('-restore'))?.input ?? '', /default\/web: cluster IP/, 'the valid service is programmed');
});
