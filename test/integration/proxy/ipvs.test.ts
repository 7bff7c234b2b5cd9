// ipvs mode against the real kernel where it can be: this kernel has no IP_VS (and no dummy links), so the
// test checks that detection says so, and that the ipsets and the iptables rules of the ipvs mode load into
// real ipset and iptables inside a namespace of ours, twice (the second time swapping sets in place).
import t from 'tap';
import { existsSync } from 'node:fs';
import { NetLab } from '../../../agent/proxy/netlab.ts';
import { netnsExecutor, hostExecutor } from '../../../agent/proxy/exec.ts';
import { ipvsAvailable } from '../../../agent/proxy/ipvs/apply.ts';
import { render } from '../../../agent/proxy/ipvs/render.ts';
import { IptablesApplier } from '../../../agent/proxy/iptables/apply.ts';
import { makeService, makeSlice, stateFrom } from '../../../agent/proxy/fixtures.ts';

t.test('ip_vs detection matches the kernel', async (t) => {
  const r = await ipvsAvailable(hostExecutor());
  t.equal(r.ok, existsSync('/proc/net/ip_vs'));
  if (!r.ok) t.match(r.reason, /no IP_VS/);
});

t.test('ipvs-mode ipsets and iptables rules load into the real kernel', async (t) => {
  const lab = new NetLab();
  t.teardown(() => lab.cleanup());
  const ns = await lab.netns('v');
  const exec = netnsExecutor(ns);
  const node = { clusterCIDR: '10.250.128.0/17' };
  const svc = (i: number) => makeService({ name: `s${i}`, clusterIP: `10.250.64.${i}`, type: 'NodePort', externalIPs: [`192.0.2.${i}`], ports: [{ port: 80, nodePort: 30000 + i }, { name: 'dns', port: 53, protocol: 'UDP', nodePort: 31000 + i }] });
  const slice = (i: number) => makeSlice({ service: `s${i}`, ports: [{ port: 8080 }, { name: 'dns', port: 5353, protocol: 'UDP' }], endpoints: [{ ip: `10.250.129.${i}` }] });
  const first = render(stateFrom([svc(1), svc(2)], [slice(1), slice(2)], { node }), { nodeIPs: ['10.250.0.11'] });
  const second = render(stateFrom([svc(2), svc(3)], [slice(2), slice(3)], { node }), { nodeIPs: ['10.250.0.11'] });

  const ipsetRestore = async (input: string) => {
    const r = await exec.run('ipset', ['restore'], input);
    t.equal(r.exitCode, 0, `ipset restore: ${r.stderr.trim()}`);
  };
  await ipsetRestore(first.ipsetRestore);
  const applier = new IptablesApplier(exec, 'nft');
  await applier.ensureJumps();
  await applier.restore(first.iptablesPayload);
  await ipsetRestore(second.ipsetRestore);
  await applier.restore(second.iptablesPayload);

  const list = await exec.run('ipset', ['list', 'KUBE-CLUSTER-IP']);
  t.match(list.stdout, /10\.250\.64\.3,tcp:80/);
  t.notMatch(list.stdout, /10\.250\.64\.1,/, 'the removed service left the set');
  t.match((await exec.run('ipset', ['list', 'KUBE-NODE-PORT-UDP'])).stdout, /31003/);
  t.match((await exec.run('ipset', ['list', 'KUBE-LOOP-BACK'])).stdout, /10\.250\.129\.2,udp:5353,10\.250\.129\.2/);
  const save = await exec.run('iptables-nft-save', ['-t', 'nat']);
  t.match(save.stdout, /-A KUBE-SERVICES .*--match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ/);
  t.notMatch((await exec.run('ipset', ['list', '-n'])).stdout, /-T\b/, 'no temporary sets left behind');
});
