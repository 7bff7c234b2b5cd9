// Service and EndpointSlice change trackers: previous/current bookkeeping, validation, endpoint conditions.
import t from 'tap';
import { ServiceChangeTracker, servicePortsOf } from '../../../agent/proxy/servicechangetracker.ts';
import { EndpointsChangeTracker, categorize } from '../../../agent/proxy/endpointschangetracker.ts';
import { makeService, makeSlice } from '../../../agent/proxy/fixtures.ts';
import { hash16, serviceChain, endpointChain } from '../../../agent/proxy/hash.ts';
import type { EndpointInfo, ServicePortInfo } from '../../../agent/proxy/types.ts';

t.test('chain names are upstream\'s hashes', async (t) => {
  t.equal(serviceChain('default/kubernetes:https', 'TCP'), 'KUBE-SVC-NPX46M4PTMTKRN6Y');
  t.equal(serviceChain('kube-system/kube-dns:dns', 'udp'), 'KUBE-SVC-TCOU7JCQXEZGVUNU');
  t.match(endpointChain('default/web:http', 'tcp', '10.244.1.2:8080'), /^KUBE-SEP-[A-Z2-7]{16}$/);
  t.not(hash16('a'), hash16('b'));
});

t.test('service ports: types, policies, affinity default timeout', async (t) => {
  const svc = makeService({ name: 'web', clusterIP: '10.96.0.10', type: 'LoadBalancer', externalIPs: ['192.0.2.1'], loadBalancerIPs: ['198.51.100.1'],
    externalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80, nodePort: 30080 }, { name: 'dns', port: 53, protocol: 'UDP' }] });
  svc.spec!.sessionAffinity = 'ClientIP';
  svc.spec!.sessionAffinityConfig = undefined;
  const ports = servicePortsOf(svc);
  t.same([...ports.keys()], ['default/web:http', 'default/web:dns']);
  const http = ports.get('default/web:http')!;
  t.equal(http.nodePort, 30080);
  t.equal(http.affinitySeconds, 10800);
  t.equal(http.externalPolicyLocal, true);
  t.same(http.loadBalancerIPs, ['198.51.100.1']);
  t.equal(ports.get('default/web:dns')!.protocol, 'UDP');
  t.equal(servicePortsOf(makeService({ name: 'h', clusterIP: 'None', ports: [{ port: 80 }] })).size, 0, 'headless: nothing');
  const ext = makeService({ name: 'x', clusterIP: '10.96.0.1', ports: [{ port: 80, nodePort: 30001 }] });
  t.equal(servicePortsOf(ext).get('default/x:')!.nodePort, 0, 'ClusterIP type ignores nodePort');
});

t.test('invalid ports and addresses are skipped with a warning, the rest kept', async (t) => {
  const warnings: string[] = [];
  const svc = makeService({ name: 'bad', clusterIP: '10.96.0.9', externalIPs: ['not-an-ip', '192.0.2.3'],
    ports: [{ name: 'ok', port: 80 }, { name: 'big', port: 70000 }, { name: 'icmp', port: 1, protocol: 'ICMP' as 'TCP' }] });
  const ports = servicePortsOf(svc, (s, m) => warnings.push(`${s.metadata?.name}: ${m}`));
  t.same([...ports.keys()], ['default/bad:ok']);
  t.same(ports.get('default/bad:ok')!.externalIPs, ['192.0.2.3']);
  t.equal(warnings.length, 3);
  t.match(warnings.join('\n'), /not-an-ip/);
  t.match(warnings.join('\n'), /70000/);
  t.equal(servicePortsOf(makeService({ name: 'v6', clusterIP: 'fd00::1', ports: [{ port: 80 }] }), (s, m) => warnings.push(m)).size, 0);
});

t.test('service tracker: previous/current per service, merged until applied', async (t) => {
  const tracker = new ServiceChangeTracker();
  const map = new Map<string, ServicePortInfo>();
  const v1 = makeService({ name: 'web', clusterIP: '10.96.0.10', ports: [{ name: 'a', port: 80 }] });
  const v2 = makeService({ name: 'web', clusterIP: '10.96.0.10', ports: [{ name: 'a', port: 81 }] });
  t.equal(tracker.update(null, v1), true);
  t.same([...tracker.apply(map).changed], ['default/web:a']);
  t.equal(map.get('default/web:a')!.port, 80);
  tracker.update(v1, v2);
  t.equal(tracker.update(v2, v1), false, 'changed back before the sync: nothing pending');
  t.same([...tracker.apply(map).changed], []);
  tracker.update(v1, null);
  const r = tracker.apply(map);
  t.same([...r.changed], ['default/web:a']);
  t.equal(r.removed[0]?.port, 80);
  t.equal(map.size, 0);
});

t.test('endpoint tracker: slices merged per service, conditions kept, locality from nodeName', async (t) => {
  const tracker = new EndpointsChangeTracker('node-a');
  const eps = new Map<string, EndpointInfo[]>();
  const a = makeSlice({ service: 'web', name: 'web-1', ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: '10.244.1.2', node: 'node-a' }] });
  const b = makeSlice({ service: 'web', name: 'web-2', ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: '10.244.2.2', node: 'node-b', ready: false }] });
  tracker.update(null, a); tracker.update(null, b);
  let r = tracker.apply(eps);
  t.same([...r.changed], ['default/web:http']);
  t.same(eps.get('default/web:http')!.map((e) => [e.ip, e.ready, e.isLocal]), [['10.244.1.2', true, true], ['10.244.2.2', false, false]]);
  tracker.update(a, null);
  r = tracker.apply(eps);
  t.same(r.gone.get('default/web:http')!.map((e) => e.ip), ['10.244.1.2'], 'the removed serving endpoint is reported');
  tracker.update(b, null);
  tracker.apply(eps);
  t.equal(eps.size, 0);
  const v6 = makeSlice({ service: 'v6', ports: [{ port: 80 }], endpoints: [{ ip: 'fd00::1' }] });
  v6.addressType = 'IPv6';
  tracker.update(null, v6);
  t.equal(tracker.apply(eps).changed.size, 0, 'IPv6 slices are ignored');
  tracker.update(null, { metadata: { name: 'orphan' } } as never);
  t.equal(tracker.pendingCount, 0, 'a slice without service label is ignored');
});

t.test('categorize: ready first, serving terminating as a fallback, local subsets', async (t) => {
  const ep = (ip: string, ready: boolean, serving: boolean, terminating: boolean, isLocal: boolean): EndpointInfo => ({ ip, port: 80, ready, serving, terminating, isLocal });
  const r = categorize([ep('1.1.1.1', true, true, false, false), ep('1.1.1.2', false, true, true, true)]);
  t.same(r.cluster.map((e) => e.ip), ['1.1.1.1']);
  t.same(r.local.map((e) => e.ip), ['1.1.1.2'], 'local falls back to its own terminating endpoint');
  t.same(categorize([ep('1.1.1.3', false, false, true, false)]).cluster, []);
});
