// ipvs mode: rendering traced (virtual servers + ipsets + constant iptables rules), diffs, apply with a fake executor.
import t from 'tap';
import { render, iptablesPayload } from '../../../agent/proxy/ipvs/render.ts';
import type { IpvsRenderResult } from '../../../agent/proxy/ipvs/render.ts';
import { diffIpvs, diffAddresses, parseIpvsadm, IpvsBackend, ipvsAvailable } from '../../../agent/proxy/ipvs/apply.ts';
import { RuleSet, trace, reachable } from '../../../agent/proxy/iptables/tracer.ts';
import type { Packet } from '../../../agent/proxy/iptables/tracer.ts';
import { makeService, makeSlice, stateFrom } from '../../../agent/proxy/fixtures.ts';
import { FakeExecutor } from '../../../agent/proxy/exec.ts';

const node = { clusterCIDR: '10.244.0.0/16' };
const nodeIPs = ['10.250.0.11'];
const web = makeService({ name: 'web', clusterIP: '10.96.0.10', type: 'NodePort', externalIPs: ['192.0.2.10'], ports: [{ name: 'http', port: 80, nodePort: 30080 }] });
const webSlice = makeSlice({ service: 'web', ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: '10.244.1.2', node: 'node-a' }, { ip: '10.244.2.2', node: 'node-b' }, { ip: '10.244.2.3', ready: false }] });

/** Load a render into the tracer and trace with ipvs picking real servers. */
function tracer(r: IpvsRenderResult) {
  const rules = new RuleSet();
  rules.restoreIpsets(r.ipsetRestore);
  rules.restore(r.iptablesPayload);
  const lookup = (dst: string, dport: number, proto: string) => {
    const vs = r.virtualServers.find((v) => v.address === dst && v.port === dport && v.protocol === proto);
    return vs ? vs.realServers.map((rs) => `${rs.address}:${rs.port}`) : null;
  };
  // Service addresses sit on kube-ipvs0, so they are local addresses of the node.
  return (pkt: Omit<Packet, 'nodeAddresses'>) => trace(rules, { ...pkt, nodeAddresses: [...nodeIPs, '10.244.1.1', ...r.addresses] }, lookup);
}

t.test('ClusterIP, NodePort and externalIPs reach ready endpoints; masquerade as in iptables mode', async (t) => {
  const r = render(stateFrom([web], [webSlice], { node }), { nodeIPs });
  t.same(r.addresses, ['10.96.0.10', '192.0.2.10'], 'kube-ipvs0 holds the service addresses');
  const go = tracer(r);
  const fromPod = go({ src: '10.244.3.3', dst: '10.96.0.10', dport: 80 });
  t.same(reachable(fromPod), ['10.244.1.2:8080', '10.244.2.2:8080']);
  t.ok(fromPod.every((o) => !o.masquerade), 'pod source kept');
  const fromNode = go({ src: '10.250.0.11', dst: '10.96.0.10', dport: 80, fromNode: true });
  t.ok(fromNode.every((o) => o.masquerade), 'off-cluster source masqueraded');
  const nodePort = go({ src: '10.250.0.100', dst: '10.250.0.11', dport: 30080 });
  t.same(reachable(nodePort), ['10.244.1.2:8080', '10.244.2.2:8080']);
  t.ok(nodePort.every((o) => o.masquerade));
  const ext = go({ src: '10.250.0.100', dst: '192.0.2.10', dport: 80 });
  t.same(reachable(ext).length, 2);
  t.ok(ext.every((o) => o.masquerade));
  const hairpin = go({ src: '10.244.1.2', dst: '10.96.0.10', dport: 80 });
  t.equal(hairpin.find((o) => o.destination === '10.244.1.2:8080')?.masquerade, true, 'hairpin masqueraded (KUBE-LOOP-BACK)');
  t.equal(hairpin.find((o) => o.destination === '10.244.2.2:8080')?.masquerade, false);
});

t.test('externalTrafficPolicy Local: local endpoints only, source kept', async (t) => {
  const svc = makeService({ name: 'web', clusterIP: '10.96.0.10', type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80, nodePort: 30080 }] });
  const r = render(stateFrom([svc], [webSlice], { node, nodeName: 'node-a' }), { nodeIPs });
  const out = tracer(r)({ src: '10.250.0.100', dst: '10.250.0.11', dport: 30080 });
  t.same(reachable(out), ['10.244.1.2:8080']);
  t.ok(out.every((o) => !o.masquerade));
  t.same(reachable(tracer(r)({ src: '10.244.3.3', dst: '10.96.0.10', dport: 80 })).length, 2, 'ClusterIP keeps all endpoints');
});

t.test('schedulers, persistence for ClientIP affinity, no endpoints, protocols', async (t) => {
  const sticky = makeService({ name: 's', clusterIP: '10.96.0.30', affinitySeconds: 600, ports: [{ port: 53, protocol: 'UDP' }, { name: 'x', port: 9, protocol: 'SCTP' }] });
  const r = render(stateFrom([sticky, web], [], { node }), { nodeIPs, scheduler: 'sh' });
  const udp = r.virtualServers.find((v) => v.address === '10.96.0.30' && v.protocol === 'UDP')!;
  t.equal(udp.scheduler, 'sh');
  t.equal(udp.persistence, 600);
  t.match(r.ipvsadmRestore, /^-A -u 10\.96\.0\.30:53 -s sh -p 600$/m);
  t.match(r.ipvsadmRestore, /^-A --sctp-service 10\.96\.0\.30:9 -s sh -p 600$/m);
  t.same(udp.realServers, [], 'no endpoints: a virtual server without real servers');
  t.same(reachable(tracer(r)({ src: '10.244.3.3', dst: '10.96.0.10', dport: 80 })), []);
  t.throws(() => render(stateFrom([], []), { nodeIPs, scheduler: 'fastest' }), /scheduler "fastest"/);
});

t.test('the iptables rules stay the same as services grow; the sets carry the services', async (t) => {
  const many = Array.from({ length: 50 }, (_, i) => makeService({ name: `s${i}`, clusterIP: `10.96.1.${i}`, type: 'NodePort', ports: [{ port: 80, nodePort: 30100 + i }] }));
  const one = render(stateFrom(many.slice(0, 1), [], { node }), { nodeIPs });
  const fifty = render(stateFrom(many, [], { node }), { nodeIPs });
  t.equal(fifty.iptablesPayload, one.iptablesPayload);
  t.equal(fifty.iptablesPayload, iptablesPayload(stateFrom([], [], { node })));
  t.equal(fifty.ipsetEntries.get('KUBE-CLUSTER-IP')!.size, 50);
  t.ok(fifty.ipsetEntries.get('KUBE-NODE-PORT-TCP')!.has('30149'));
  t.match(fifty.ipsetRestore, /^swap KUBE-CLUSTER-IP-T KUBE-CLUSTER-IP$/m, 'sets are swapped in whole');
});

t.test('ipvsadm diff: add, delete, edit scheduler, real server changes', async (t) => {
  const cur = parseIpvsadm(['-A -t 10.96.0.10:80 -s rr', '-a -t 10.96.0.10:80 -r 10.244.1.2:8080 -m -w 1', '-a -t 10.96.0.10:80 -r 10.244.9.9:8080 -m -w 1', '-A -u 10.96.0.99:53 -s rr'].join('\n'));
  t.equal(cur.length, 2);
  const want = render(stateFrom([web], [webSlice], { node }), { nodeIPs, scheduler: 'lc' }).virtualServers;
  const diff = diffIpvs(cur, want);
  t.ok(diff.includes('-D -u 10.96.0.99:53'));
  t.ok(diff.includes('-E -t 10.96.0.10:80 -s lc'));
  t.ok(diff.includes('-d -t 10.96.0.10:80 -r 10.244.9.9:8080'));
  t.ok(diff.includes('-a -t 10.96.0.10:80 -r 10.244.2.2:8080 -m -w 1'));
  t.notOk(diff.includes('-a -t 10.96.0.10:80 -r 10.244.1.2:8080 -m -w 1'), 'unchanged real server left alone');
  t.ok(diff.includes('-A -t 10.250.0.11:30080 -s lc'), 'node port virtual server added');
  t.same(diffIpvs(want, want), []);
  t.same(diffAddresses(['1.1.1.1', '2.2.2.2'], ['2.2.2.2', '3.3.3.3']), { add: ['3.3.3.3'], del: ['1.1.1.1'] });
});

t.test('apply: addresses, ipsets, ipvs diff and iptables, in that order', async (t) => {
  const exec = new FakeExecutor((c) => {
    if (c.cmd === 'ip' && c.args[0] === '-4') return { stdout: '7: kube-ipvs0    inet 10.96.9.9/32 scope global kube-ipvs0\n' };
    if (c.cmd === 'ipvsadm-save') return { stdout: '-A -t 10.96.9.9:80 -s rr\n' };
    return undefined;
  });
  const backend = new IpvsBackend({ exec, variant: 'nft', nodeIPs });
  await backend.sync({ state: stateFrom([web], [webSlice], { node }), changed: undefined });
  const cmds = exec.calls.map((c) => c.cmd);
  t.same(cmds.filter((c) => c !== 'iptables-nft'), ['ip', 'ip', 'ip', 'ipset', 'ipvsadm-save', 'ipvsadm-restore', 'iptables-nft-restore']);
  const batch = exec.calls.find((c) => c.args[0] === '-batch')!.input!;
  t.match(batch, /addr del 10\.96\.9\.9\/32 dev kube-ipvs0/);
  t.match(batch, /addr add 10\.96\.0\.10\/32 dev kube-ipvs0/);
  const restore = exec.calls.find((c) => c.cmd === 'ipvsadm-restore')!.input!;
  t.match(restore, /^-D -t 10\.96\.9\.9:80$/m);
  exec.calls.length = 0;
  await backend.sync({ state: stateFrom([web], [webSlice], { node }), changed: new Set() });
  t.notOk(exec.calls.some((c) => c.cmd === 'iptables-nft-restore'), 'constant iptables rules not reloaded on partial syncs');

  const failing = new FakeExecutor((c) => c.cmd === 'ipset' ? { exitCode: 1, stderr: 'ipset v7.17: Kernel error' } : undefined);
  await t.rejects(new IpvsBackend({ exec: failing, variant: 'nft', nodeIPs }).sync({ state: stateFrom([], []), changed: undefined }), /ipset restore failed .*Kernel error/);
});

t.test('ip_vs detection: missing module is reported, present /proc file accepted', async (t) => {
  const exec = new FakeExecutor((c) => c.cmd === 'modprobe' ? { exitCode: 1, stderr: 'modprobe: FATAL: Module ip_vs not found' } : undefined);
  const missing = await ipvsAvailable(exec, '/nonexistent/ip_vs');
  t.equal(missing.ok, false);
  t.match(missing.reason, /Module ip_vs not found/);
  t.equal((await ipvsAvailable(exec, '/proc/self/status')).ok, true);
});
