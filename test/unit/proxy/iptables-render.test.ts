// The iptables rendering, checked by tracing packets through the rules (agent/proxy/iptables/tracer.ts).
import t from 'tap';
import { render } from '../../../agent/proxy/iptables/render.ts';
import { RuleSet, trace, reachable, shares } from '../../../agent/proxy/iptables/tracer.ts';
import type { Packet } from '../../../agent/proxy/iptables/tracer.ts';
import { makeService, makeSlice, stateFrom } from '../../../agent/proxy/fixtures.ts';
import { EndpointsChangeTracker } from '../../../agent/proxy/endpointschangetracker.ts';
import { ServiceChangeTracker } from '../../../agent/proxy/servicechangetracker.ts';
import { serviceChain } from '../../../agent/proxy/hash.ts';
import type { ProxyState } from '../../../agent/proxy/types.ts';

const node = { clusterCIDR: '10.244.0.0/16' };
const nodeAddresses = ['10.250.0.11', '10.244.1.1'];
const fromNode = (dst: string, dport: number): Packet => ({ src: '10.250.0.11', dst, dport, fromNode: true, nodeAddresses });
const fromPod = (src: string, dst: string, dport: number): Packet => ({ src, dst, dport, nodeAddresses });
const fromOutside = (dst: string, dport: number): Packet => ({ src: '10.250.0.100', dst, dport, nodeAddresses });

function load(state: ProxyState): RuleSet {
  const rules = new RuleSet();
  rules.restore(render(state).payload);
  return rules;
}

const web = makeService({ name: 'web', clusterIP: '10.96.0.10', type: 'NodePort', ports: [{ name: 'http', port: 80, targetPort: 'web' as never, nodePort: 30080 }] });
const webSlice = makeSlice({ service: 'web', ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: '10.244.1.2', node: 'node-a' }, { ip: '10.244.2.2', node: 'node-b' }] });

t.test('ClusterIP spreads evenly over ready endpoints; named target port resolved from the slice', async (t) => {
  const rules = load(stateFrom([web], [webSlice], { node }));
  const out = trace(rules, fromPod('10.244.3.7', '10.96.0.10', 80));
  t.same(reachable(out), ['10.244.1.2:8080', '10.244.2.2:8080']);
  for (const share of shares(out).values()) t.ok(Math.abs(share - 0.5) < 1e-9, 'half each');
  t.ok(out.every((o) => !o.masquerade), 'pod-to-service traffic keeps its source');
  t.same(reachable(trace(rules, fromPod('10.244.3.7', '10.96.0.10', 81))), [], 'other ports do not match');
  t.same(reachable(trace(rules, { ...fromPod('10.244.3.7', '10.96.0.10', 80), proto: 'UDP' })), [], 'other protocols do not match');
});

t.test('three endpoints get a third each', async (t) => {
  const slice = makeSlice({ service: 'web', ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: '10.244.1.2' }, { ip: '10.244.1.3' }, { ip: '10.244.2.2' }] });
  const s = shares(trace(load(stateFrom([web], [slice], { node })), fromNode('10.96.0.10', 80)));
  t.equal(s.size, 3);
  for (const share of s.values()) t.ok(Math.abs(share - 1 / 3) < 1e-9);
});

t.test('traffic from outside the cluster CIDR to a ClusterIP is masqueraded', async (t) => {
  const out = trace(load(stateFrom([web], [webSlice], { node })), fromNode('10.96.0.10', 80));
  t.same(reachable(out), ['10.244.1.2:8080', '10.244.2.2:8080']);
  t.ok(out.every((o) => o.masquerade));
});

t.test('hairpin: an endpoint reaching itself through the service is masqueraded', async (t) => {
  const out = trace(load(stateFrom([web], [webSlice], { node })), fromPod('10.244.1.2', '10.96.0.10', 80));
  const self = out.find((o) => o.destination === '10.244.1.2:8080');
  const other = out.find((o) => o.destination === '10.244.2.2:8080');
  t.equal(self?.masquerade, true);
  t.equal(other?.masquerade, false);
});

t.test('NodePort answers on every node address and is masqueraded', async (t) => {
  const rules = load(stateFrom([web], [webSlice], { node }));
  for (const addr of nodeAddresses) {
    const out = trace(rules, fromOutside(addr, 30080));
    t.same(reachable(out), ['10.244.1.2:8080', '10.244.2.2:8080'], addr);
    t.ok(out.every((o) => o.masquerade));
  }
  t.same(reachable(trace(rules, fromOutside('10.250.0.99', 30080))), [], 'not on addresses of other hosts');
});

t.test('--nodeport-addresses limits NodePorts to those CIDRs', async (t) => {
  const rules = load(stateFrom([web], [webSlice], { node: { ...node, nodePortAddresses: ['10.250.0.0/24'] } }));
  t.same(reachable(trace(rules, fromOutside('10.250.0.11', 30080))).length, 2);
  t.same(reachable(trace(rules, fromOutside('10.244.1.1', 30080))), []);
});

t.test('externalIPs and LoadBalancer ingress IPs reach the endpoints, masqueraded', async (t) => {
  const svc = makeService({ name: 'lb', clusterIP: '10.96.0.20', type: 'LoadBalancer', externalIPs: ['192.0.2.10'], loadBalancerIPs: ['198.51.100.7'], ports: [{ port: 443, nodePort: 30443 }] });
  const slice = makeSlice({ service: 'lb', ports: [{ port: 8443 }], endpoints: [{ ip: '10.244.1.5' }, { ip: '10.244.2.5' }] });
  const rules = load(stateFrom([svc], [slice], { node }));
  for (const ip of ['192.0.2.10', '198.51.100.7']) {
    const out = trace(rules, fromOutside(ip, 443));
    t.same(reachable(out), ['10.244.1.5:8443', '10.244.2.5:8443'], ip);
    t.ok(out.every((o) => o.masquerade));
  }
  t.same(reachable(trace(rules, fromOutside('10.250.0.11', 30443))).length, 2, 'LoadBalancer also has its NodePort');
});

t.test('loadBalancerSourceRanges: allowed sources reach the endpoints, others are dropped', async (t) => {
  const svc = makeService({ name: 'lb', clusterIP: '10.96.0.20', type: 'LoadBalancer', externalIPs: ['192.0.2.10'], loadBalancerIPs: ['198.51.100.7'],
    loadBalancerSourceRanges: ['203.0.113.0/24'], ports: [{ port: 443, nodePort: 30443 }] });
  const slice = makeSlice({ service: 'lb', ports: [{ port: 8443 }], endpoints: [{ ip: '10.244.1.5' }, { ip: '10.244.2.5' }] });
  const rules = load(stateFrom([svc], [slice], { node }));
  const allowed = trace(rules, { src: '203.0.113.9', dst: '198.51.100.7', dport: 443, nodeAddresses });
  t.same(reachable(allowed), ['10.244.1.5:8443', '10.244.2.5:8443']);
  t.ok(allowed.every((o) => o.masquerade));
  t.ok(trace(rules, { src: '198.18.0.1', dst: '198.51.100.7', dport: 443, nodeAddresses }).every((o) => o.verdict === 'DROP' && !o.destination), 'other sources dropped');
  t.same(reachable(trace(rules, { src: '198.18.0.1', dst: '192.0.2.10', dport: 443, nodeAddresses })).length, 2, 'externalIPs are not filtered');
  t.ok(rules.chainNames('nat').some((c) => c.startsWith('KUBE-FW-')));
});

t.test('sessionAffinity ClientIP: every endpoint is remembered and rechecked with the timeout', async (t) => {
  const svc = makeService({ name: 'sticky', clusterIP: '10.96.0.30', affinitySeconds: 600, ports: [{ port: 80 }] });
  const slice = makeSlice({ service: 'sticky', ports: [{ port: 80 }], endpoints: [{ ip: '10.244.1.7' }, { ip: '10.244.2.7' }] });
  const out = trace(load(stateFrom([svc], [slice], { node })), fromPod('10.244.3.3', '10.96.0.30', 80));
  const fresh = out.filter((o) => !o.affinity && o.destination);
  const sticky = out.filter((o) => o.affinity);
  t.equal(fresh.length, 2);
  for (const o of fresh) {
    t.equal(o.recentSet.length, 1, `${o.destination} is recorded`);
    const back = sticky.find((s) => s.affinity!.name === o.recentSet[0]);
    t.equal(back?.destination, o.destination, 'the recorded list leads back to the same endpoint');
    t.equal(back?.affinity?.seconds, 600);
  }
});

t.test('a service with no endpoints is rejected, on every address', async (t) => {
  const rules = load(stateFrom([web], [], { node }));
  t.ok(trace(rules, fromNode('10.96.0.10', 80)).every((o) => o.verdict === 'REJECT' && !o.destination));
  t.ok(trace(rules, fromOutside('10.250.0.11', 30080)).every((o) => o.verdict === 'REJECT'));
  t.ok(trace(rules, fromNode('10.96.0.11', 80)).every((o) => o.verdict === 'ACCEPT'), 'other addresses untouched');
});

t.test('only ready endpoints serve; serving terminating ones only when none is ready', async (t) => {
  const mixed = makeSlice({ service: 'web', ports: [{ name: 'http', port: 8080 }], endpoints: [
    { ip: '10.244.1.2' }, { ip: '10.244.2.2', ready: false, serving: false },
    { ip: '10.244.2.3', ready: false, serving: true, terminating: true }] });
  t.same(reachable(trace(load(stateFrom([web], [mixed], { node })), fromNode('10.96.0.10', 80))), ['10.244.1.2:8080']);
  const noneReady = makeSlice({ service: 'web', ports: [{ name: 'http', port: 8080 }], endpoints: [
    { ip: '10.244.2.2', ready: false, serving: false },
    { ip: '10.244.2.3', ready: false, serving: true, terminating: true },
    { ip: '10.244.2.4', ready: false, serving: false, terminating: true }] });
  t.same(reachable(trace(load(stateFrom([web], [noneReady], { node })), fromNode('10.96.0.10', 80))), ['10.244.2.3:8080']);
  const nothing = makeSlice({ service: 'web', ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: '10.244.2.2', ready: false, serving: false }] });
  t.ok(trace(load(stateFrom([web], [nothing], { node })), fromNode('10.96.0.10', 80)).every((o) => o.verdict === 'REJECT'));
});

t.test('externalTrafficPolicy Local: outside clients reach local endpoints only, source kept', async (t) => {
  const svc = makeService({ name: 'web', clusterIP: '10.96.0.10', type: 'NodePort', externalTrafficPolicy: 'Local', externalIPs: ['192.0.2.10'], ports: [{ name: 'http', port: 80, nodePort: 30080 }] });
  const rules = load(stateFrom([svc], [webSlice], { node, nodeName: 'node-a' }));
  for (const [dst, port] of [['10.250.0.11', 30080], ['192.0.2.10', 80]] as const) {
    const out = trace(rules, fromOutside(dst, port));
    t.same(reachable(out), ['10.244.1.2:8080'], `${dst}: local endpoint only`);
    t.ok(out.every((o) => !o.masquerade), 'client source preserved');
  }
  const local = trace(rules, { ...fromNode('10.250.0.11', 30080), src: '10.250.0.11' });
  t.same(reachable(local), ['10.244.1.2:8080', '10.244.2.2:8080'], 'the node itself may use any endpoint');
  t.ok(local.every((o) => o.masquerade));
  t.same(reachable(trace(rules, fromPod('10.244.1.9', '192.0.2.10', 80))), ['10.244.1.2:8080', '10.244.2.2:8080'], 'pods short-circuit to all endpoints');
  t.same(reachable(trace(rules, fromPod('10.244.3.7', '10.96.0.10', 80))).length, 2, 'ClusterIP still uses every endpoint');

  const elsewhere = load(stateFrom([svc], [webSlice], { node, nodeName: 'node-c' }));
  t.ok(trace(elsewhere, fromOutside('10.250.0.11', 30080)).every((o) => o.verdict === 'DROP'), 'no local endpoint: dropped');
  t.same(reachable(trace(elsewhere, fromNode('10.96.0.10', 80))).length, 2, 'ClusterIP unaffected');
});

t.test('internalTrafficPolicy Local: ClusterIP reaches local endpoints only', async (t) => {
  const svc = makeService({ name: 'web', clusterIP: '10.96.0.10', internalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80 }] });
  t.same(reachable(trace(load(stateFrom([svc], [webSlice], { node, nodeName: 'node-b' })), fromPod('10.244.2.9', '10.96.0.10', 80))), ['10.244.2.2:8080']);
  t.ok(trace(load(stateFrom([svc], [webSlice], { node, nodeName: 'node-c' })), fromPod('10.244.2.9', '10.96.0.10', 80)).every((o) => o.verdict === 'DROP'));
});

t.test('UDP and SCTP services match their own protocol', async (t) => {
  const dns = makeService({ namespace: 'kube-system', name: 'kube-dns', clusterIP: '10.96.0.53', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }, { name: 'sig', port: 2905, protocol: 'SCTP' }] });
  const slice = makeSlice({ namespace: 'kube-system', service: 'kube-dns', ports: [{ name: 'dns', port: 5353, protocol: 'UDP' }, { name: 'dns-tcp', port: 5354 }, { name: 'sig', port: 2906, protocol: 'SCTP' }], endpoints: [{ ip: '10.244.1.53' }] });
  const state = stateFrom([dns], [slice], { node });
  const rules = load(state);
  t.same(reachable(trace(rules, { ...fromNode('10.96.0.53', 53), proto: 'UDP' })), ['10.244.1.53:5353']);
  t.same(reachable(trace(rules, { ...fromNode('10.96.0.53', 53), proto: 'TCP' })), ['10.244.1.53:5354']);
  t.same(reachable(trace(rules, { ...fromNode('10.96.0.53', 2905), proto: 'SCTP' })), ['10.244.1.53:2906']);
  t.ok(rules.chainNames('nat').includes('KUBE-SVC-TCOU7JCQXEZGVUNU'), 'upstream chain name for kube-system/kube-dns:dns udp');
});

t.test('partial sync rewrites only the changed service and keeps the rules consistent', async (t) => {
  const services = new ServiceChangeTracker();
  const endpoints = new EndpointsChangeTracker('node-a');
  const state: ProxyState = stateFrom([], [], { node });
  const other = makeService({ name: 'other', clusterIP: '10.96.0.40', ports: [{ port: 80 }] });
  const otherSlice = makeSlice({ service: 'other', ports: [{ port: 80 }], endpoints: [{ ip: '10.244.2.40' }] });
  services.update(null, web); services.update(null, other);
  endpoints.update(null, webSlice); endpoints.update(null, otherSlice);
  services.apply(state.services); endpoints.apply(state.endpoints);
  const rules = new RuleSet();
  const first = render(state);
  rules.restore(first.payload);

  // An endpoint of web goes away and another appears.
  const moved = makeSlice({ service: 'web', ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: '10.244.1.2' }, { ip: '10.244.2.9' }] });
  endpoints.update(webSlice, moved);
  const applied = endpoints.apply(state.endpoints);
  t.same([...applied.changed], ['default/web:http']);
  const second = render(state, { changed: applied.changed, previousChains: first.serviceChains, previousShared: first.shared });
  t.notMatch(second.payload, serviceChain('default/other:', 'tcp'), 'the unchanged service is not rewritten');
  t.notMatch(second.payload, /:KUBE-SERVICES/, 'KUBE-SERVICES unchanged: not rewritten either');
  t.match(second.payload, /-X KUBE-SEP-/, 'the stale endpoint chain is deleted');
  rules.restore(second.payload);
  t.same(reachable(trace(rules, fromNode('10.96.0.10', 80))), ['10.244.1.2:8080', '10.244.2.9:8080']);
  t.same(reachable(trace(rules, fromNode('10.96.0.40', 80))), ['10.244.2.40:80'], 'the other service still works');

  // The service is deleted: its chains go, KUBE-SERVICES is rewritten.
  services.update(web, null);
  const gone = services.apply(state.services);
  const third = render(state, { changed: gone.changed, previousChains: second.serviceChains, previousShared: second.shared });
  t.match(third.payload, /:KUBE-SERVICES/);
  rules.restore(third.payload);
  t.same(reachable(trace(rules, fromNode('10.96.0.10', 80))), []);
  t.notOk(rules.chainNames('nat').some((c) => c === serviceChain('default/web:http', 'tcp')), 'KUBE-SVC chain deleted');
  t.equal(rules.chainNames('nat').filter((c) => c.startsWith('KUBE-SEP-')).length, 1, 'only the other service\'s endpoint chain is left');
  t.equal(render(state, { changed: new Set(), previousChains: third.serviceChains, previousShared: third.shared }).payload, '', 'nothing changed: nothing to load');
});

t.test('partial renders from the previous result match partial renders from the whole state', async (t) => {
  const services = new ServiceChangeTracker();
  const endpoints = new EndpointsChangeTracker('node-a');
  const state: ProxyState = stateFrom([], [], { node });
  const svcs = Array.from({ length: 6 }, (_, i) => makeService({ name: `s${i}`, clusterIP: `10.96.1.${i}`, type: 'NodePort', ports: [{ port: 80, nodePort: 30100 + i }] }));
  const slice = (i: number, ips: string[]) => makeSlice({ service: `s${i}`, ports: [{ port: 8080 }], endpoints: ips.map((ip) => ({ ip })) });
  svcs.forEach((s, i) => { services.update(null, s); endpoints.update(null, slice(i, [`10.244.1.${i}`, `10.244.2.${i}`])); });
  services.apply(state.services); endpoints.apply(state.endpoints);
  const fast = new RuleSet();
  const slow = new RuleSet();
  let fastPrev = render(state);
  let slowPrev = fastPrev;
  fast.restore(fastPrev.payload);
  slow.restore(slowPrev.payload);
  const steps: (() => void)[] = [
    () => endpoints.update(slice(1, ['10.244.1.1', '10.244.2.1']), slice(1, ['10.244.1.1', '10.244.3.1'])), // endpoint swap
    () => endpoints.update(slice(2, ['10.244.1.2', '10.244.2.2']), null), // no endpoints: REJECT
    () => services.update(svcs[3]!, null), // service deleted
    () => services.update(null, makeService({ name: 'new', clusterIP: '10.96.2.1', ports: [{ port: 81 }] })), // service without endpoints
    () => endpoints.update(null, slice(0, ['10.244.9.9'])), // second slice for s0 replaces? (same name: update)
  ];
  for (const [i, step] of steps.entries()) {
    step();
    const changed = new Set([...services.apply(state.services).changed, ...endpoints.apply(state.endpoints).changed]);
    const f = render(state, { changed, previous: fastPrev });
    const s = render(state, { changed, previousChains: slowPrev.serviceChains, previousShared: slowPrev.shared });
    fast.restore(f.payload);
    slow.restore(s.payload);
    t.same(new Set(fast.chainNames('nat')), new Set(slow.chainNames('nat')), `step ${i}: same chains`);
    t.same([...f.serviceChains].sort(), [...s.serviceChains].sort(), `step ${i}: same bookkeeping`);
    for (let k = 0; k < 6; k++) {
      for (const pkt of [fromNode(`10.96.1.${k}`, 80), fromOutside('10.250.0.11', 30100 + k)]) {
        t.same(trace(fast, pkt).map((o) => [o.destination, o.verdict]).sort(), trace(slow, pkt).map((o) => [o.destination, o.verdict]).sort(), `step ${i}: same paths to ${pkt.dst}:${pkt.dport}`);
      }
    }
    fastPrev = f;
    slowPrev = s;
  }
  t.ok(trace(fast, fromNode('10.96.2.1', 81)).every((o) => o.verdict === 'REJECT'), 'the new service without endpoints is rejected');
  t.same(reachable(trace(fast, fromNode('10.96.1.1', 80))), ['10.244.1.1:8080', '10.244.3.1:8080']);
  t.equal(render(state, { changed: new Set(['default/s1:']), previous: fastPrev }).payload.includes(':KUBE-SERVICES'), false, 'an unchanged service re-rendered: shared chains untouched');
});

t.test('a full sync deletes chains left over from before (restart)', async (t) => {
  const state = stateFrom([web], [webSlice], { node });
  const leftover = 'KUBE-SVC-AAAAAAAAAAAAAAAA';
  const rules = new RuleSet();
  rules.restore(`*nat\n:${leftover} - [0:0]\n-A ${leftover} -j RETURN\nCOMMIT\n`);
  const out = render(state, { previousChains: new Set([leftover]) });
  rules.restore(out.payload);
  t.notOk(rules.chainNames('nat').includes(leftover));
  t.equal(out.stats.chainsDeleted, 1);
});
