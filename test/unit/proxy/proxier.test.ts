// The mode-independent proxier with a recording backend: partial vs full syncs, failures, metrics, UDP flush.
import t from 'tap';
import { Proxier } from '../../../agent/proxy/proxier.ts';
import type { ProxyBackend, SyncRequest } from '../../../agent/proxy/proxier.ts';
import type { StaleEndpoints } from '../../../agent/proxy/conntrack.ts';
import { makeService, makeSlice } from '../../../agent/proxy/fixtures.ts';
import { defaultNodeInfo } from '../../../agent/proxy/types.ts';

class RecordingBackend implements ProxyBackend {
  readonly mode = 'iptables' as const;
  syncs: { full: boolean; changed: string[]; servicePorts: number }[] = [];
  stale: StaleEndpoints[] = [];
  fail = false;
  async sync(req: SyncRequest): Promise<void> {
    if (this.fail) { this.fail = false; throw new Error('restore failed'); }
    this.syncs.push({ full: req.changed === undefined, changed: [...(req.changed ?? [])], servicePorts: req.state.services.size });
  }
  async flushStale(stale: StaleEndpoints[]): Promise<void> { this.stale.push(...stale); }
}

t.test('first sync full, later ones partial with the changed keys, full after a failure', async (t) => {
  let now = 1000;
  const backend = new RecordingBackend();
  const proxier = new Proxier({ nodeName: 'n1', node: defaultNodeInfo(), backend, now: () => now, syncPeriodMs: 60_000 });
  t.teardown(() => proxier.stop());
  const dns = makeService({ name: 'dns', clusterIP: '10.96.0.53', ports: [{ port: 53, protocol: 'UDP' }] });
  const slice = makeSlice({ service: 'dns', ports: [{ port: 53, protocol: 'UDP' }], endpoints: [{ ip: '10.244.1.53' }, { ip: '10.244.2.53' }] });
  proxier.service(null, dns);
  proxier.endpointSlice(null, slice);
  await proxier.sync();
  t.same(backend.syncs.at(-1), { full: true, changed: [], servicePorts: 1 });
  t.same(backend.stale.map((s) => s.wholeService), [true], 'a UDP service getting its first endpoints: its old conntrack entries go');
  backend.stale = [];

  now += 500;
  const smaller = makeSlice({ service: 'dns', ports: [{ port: 53, protocol: 'UDP' }], endpoints: [{ ip: '10.244.1.53' }] });
  proxier.endpointSlice(slice, smaller);
  await proxier.sync();
  t.same(backend.syncs.at(-1), { full: false, changed: ['default/dns:'], servicePorts: 1 });
  t.same(backend.stale.map((s) => s.endpoints.map((e) => e.ip)), [['10.244.2.53']], 'removed UDP endpoint flushed from conntrack');

  backend.fail = true;
  proxier.endpointSlice(smaller, slice);
  await t.rejects(proxier.sync(), /restore failed/);
  t.equal(proxier.lastError?.message, 'restore failed');
  await proxier.sync();
  t.same(backend.syncs.at(-1), { full: true, changed: [], servicePorts: 1 }, 'the retry is a full sync');
  const failures = await proxier.metrics.registry.getSingleMetricAsString('kubeproxy_sync_proxy_rules_iptables_restore_failures_total');
  t.match(failures, /_total 1/);
});

t.test('a full sync every syncPeriod', async (t) => {
  let now = 0;
  const backend = new RecordingBackend();
  const proxier = new Proxier({ nodeName: 'n1', node: defaultNodeInfo(), backend, now: () => now, syncPeriodMs: 30_000 });
  t.teardown(() => proxier.stop());
  await proxier.sync();
  now = 10_000; await proxier.sync();
  now = 31_000; await proxier.sync();
  t.same(backend.syncs.map((s) => s.full), [true, false, true]);
});

t.test('network programming latency is measured from the slice change trigger time', async (t) => {
  let now = Date.parse('2026-01-01T00:00:10Z');
  const backend = new RecordingBackend();
  const proxier = new Proxier({ nodeName: 'n1', node: defaultNodeInfo(), backend, now: () => now });
  t.teardown(() => proxier.stop());
  const slice = makeSlice({ service: 'web', ports: [{ port: 80 }], endpoints: [{ ip: '10.244.1.2' }] });
  slice.metadata!.annotations = { 'endpoints.kubernetes.io/last-change-trigger-time': '2026-01-01T00:00:07Z' };
  proxier.endpointSlice(null, slice);
  await proxier.sync();
  const text = await proxier.metrics.registry.getSingleMetricAsString('kubeproxy_network_programming_duration_seconds');
  t.match(text, /kubeproxy_network_programming_duration_seconds_sum 3\n/);
  t.match(text, /kubeproxy_network_programming_duration_seconds_count 1$/m);
});

t.test('the runner syncs on events once synced, rate limited', async (t) => {
  const backend = new RecordingBackend();
  const proxier = new Proxier({ nodeName: 'n1', node: defaultNodeInfo(), backend, minSyncPeriodMs: 50, syncPeriodMs: 60_000 });
  t.teardown(() => proxier.stop());
  proxier.service(null, makeService({ name: 'a', clusterIP: '10.96.0.1', ports: [{ port: 80 }] }));
  t.equal(backend.syncs.length, 0, 'no sync before the initial lists are in');
  proxier.synced();
  while (proxier.syncCount < 1) await new Promise((r) => setTimeout(r, 5));
  for (let i = 0; i < 5; i++) proxier.service(null, makeService({ name: `b${i}`, clusterIP: `10.96.1.${i}`, ports: [{ port: 80 }] }));
  while (proxier.state.services.size < 6) await new Promise((r) => setTimeout(r, 5));
  await proxier.runner.idle();
  t.equal(backend.syncs.length, 2, 'five events, one more sync');
  t.equal(backend.syncs[1]!.servicePorts, 6);
});
