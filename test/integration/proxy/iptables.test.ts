// kube-proxy iptables mode against the real kernel: two "node" network namespaces on a bridge, one endpoint
// namespace per node serving a page that names it, rules loaded by our backend with real iptables inside each
// node namespace. Needs root. Everything lives in namespaces this test makes and deletes.
import t from 'tap';
import type { Test } from 'tap';
import { NetLab } from '../../../agent/proxy/netlab.ts';
import { netnsExecutor } from '../../../agent/proxy/exec.ts';
import { IptablesBackend } from '../../../agent/proxy/iptables/backend.ts';
import { IptablesApplier, IptablesRestoreError } from '../../../agent/proxy/iptables/apply.ts';
import type { IptablesVariant } from '../../../agent/proxy/iptables/apply.ts';
import { Proxier } from '../../../agent/proxy/proxier.ts';
import { makeService, makeSlice } from '../../../agent/proxy/fixtures.ts';
import { defaultNodeInfo } from '../../../agent/proxy/types.ts';

const clusterCIDR = '10.250.128.0/17';
const clusterIP = '10.250.64.10';
const nodeIP = (i: number) => `10.250.0.1${i}`;
const podIP = (i: number) => `10.250.${128 + i}.2`;

async function buildLab(t: Test, variant: IptablesVariant) {
  const lab = new NetLab();
  t.teardown(() => lab.cleanup());
  const outside = await lab.netns('u');
  await lab.ip(outside, 'link', 'add', 'br0', 'type', 'bridge');
  await lab.ip(outside, 'addr', 'add', '10.250.0.1/24', 'dev', 'br0');
  await lab.ip(outside, 'link', 'set', 'br0', 'up');
  const nodes: string[] = [];
  const pods: string[] = [];
  for (const i of [1, 2]) {
    const node = await lab.netns(`n${i}`);
    await lab.veth(node, 'eth0', outside, `v${i}`);
    await lab.ip(outside, 'link', 'set', `v${i}`, 'master', 'br0');
    await lab.ip(node, 'addr', 'add', `${nodeIP(i)}/24`, 'dev', 'eth0');
    // A default route: the node's own connects to ClusterIPs need a route before nat OUTPUT rewrites them.
    await lab.ip(node, 'route', 'add', 'default', 'via', '10.250.0.1');
    await lab.sysctl(node, 'net.ipv4.ip_forward', '1');
    await lab.ip(node, 'link', 'add', 'cni0', 'type', 'bridge');
    await lab.ip(node, 'addr', 'add', `10.250.${128 + i}.1/24`, 'dev', 'cni0');
    await lab.ip(node, 'link', 'set', 'cni0', 'up');
    const pod = await lab.netns(`p${i}`);
    await lab.veth(pod, 'eth0', node, 'vpod');
    await lab.ip(node, 'link', 'set', 'vpod', 'master', 'cni0');
    await lab.ip(node, 'link', 'set', 'vpod', 'type', 'bridge_slave', 'hairpin', 'on');
    await lab.ip(pod, 'addr', 'add', `${podIP(i)}/24`, 'dev', 'eth0');
    await lab.ip(pod, 'route', 'add', 'default', 'via', `10.250.${128 + i}.1`);
    await lab.httpd(pod, 8080, `endpoint-${i}`);
    nodes.push(node);
    pods.push(pod);
  }
  await lab.ip(nodes[0]!, 'route', 'add', '10.250.130.0/24', 'via', nodeIP(2));
  await lab.ip(nodes[1]!, 'route', 'add', '10.250.129.0/24', 'via', nodeIP(1));
  await lab.ip(outside, 'route', 'add', '10.250.129.0/24', 'via', nodeIP(1));
  await lab.ip(outside, 'route', 'add', '10.250.130.0/24', 'via', nodeIP(2));

  const backends = nodes.map((n) => new IptablesBackend({ exec: netnsExecutor(n), variant }));
  const proxiers = nodes.map((_, i) => new Proxier({ nodeName: `node-${i + 1}`, node: defaultNodeInfo({ clusterCIDR }), backend: backends[i]! }));
  t.teardown(() => proxiers.forEach((p) => p.stop()));

  /** Who answers `n` fresh connections to `url` from inside `ns` ("endpoint-1": 7, ...; failures as "error"). */
  const hits = async (ns: string, url: string, n = 16) => {
    const seen: Record<string, number> = {};
    for (let k = 0; k < n; k++) {
      const r = await lab.exec(ns, 'curl', ['-s', '--max-time', '3', url]);
      const who = r.exitCode === 0 ? String(r.stdout).trim() : 'error';
      seen[who] = (seen[who] ?? 0) + 1;
    }
    return seen;
  };
  /**
   * Who answers url from ns, sorted: curls until both endpoints have answered (or a request failed), 64 at most.
   * Endpoints are picked at random, so a fixed small number of requests misses one now and then (8: 1 in 128).
   */
  const answerers = async (ns: string, url: string) => {
    const seen = new Set<string>();
    for (let k = 0; k < 64 && !seen.has('error') && !(seen.has('endpoint-1') && seen.has('endpoint-2')); k++) {
      const r = await lab.exec(ns, 'curl', ['-s', '--max-time', '3', url]);
      seen.add(r.exitCode === 0 ? String(r.stdout).trim() : 'error');
    }
    return [...seen].sort();
  };
  return { lab, outside, nodes, pods, proxiers, backends, hits, answerers };
}

const service = makeService({ name: 'web', clusterIP, type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }] });
const slice = (secondReady: boolean) => makeSlice({ service: 'web', ports: [{ name: 'http', port: 8080 }], endpoints: [
  { ip: podIP(1), node: 'node-1' }, { ip: podIP(2), node: 'node-2', ready: secondReady }] });

for (const variant of ['nft', 'legacy'] as const) {
  t.test(`iptables mode (${variant}): ClusterIP, hairpin, NodePort, unready endpoint`, async (t) => {
    const { outside, nodes, pods, proxiers, hits, answerers } = await buildLab(t, variant);
    for (const p of proxiers) {
      p.service(null, service);
      p.endpointSlice(null, slice(true));
      await p.sync();
    }

    // A restarted proxy (new backend, same kernel state) neither duplicates jump rules nor breaks the service.
    const again = new Proxier({ nodeName: 'node-1', node: defaultNodeInfo({ clusterCIDR }), backend: new IptablesBackend({ exec: netnsExecutor(nodes[0]!), variant }) });
    again.service(null, service);
    again.endpointSlice(null, slice(true));
    await again.sync();
    const saved = await netnsExecutor(nodes[0]!).run(`iptables-${variant}-save`, []);
    t.equal(saved.stdout.split('\n').filter((l) => l.startsWith('-A PREROUTING') && l.endsWith('-j KUBE-SERVICES')).length, 1, 'one jump from PREROUTING');
    t.equal(saved.stdout.split('\n').filter((l) => l.startsWith('-A FORWARD') && l.endsWith('-j KUBE-FORWARD')).length, 1, 'one jump from FORWARD');

    t.same(await answerers(nodes[0]!, `http://${clusterIP}/`), ['endpoint-1', 'endpoint-2'], 'ClusterIP from node 1: both endpoints answer');
    t.same(await answerers(pods[0]!, `http://${clusterIP}/`), ['endpoint-1', 'endpoint-2'], 'ClusterIP from endpoint 1 (hairpin): both answer');
    t.same(await answerers(outside, `http://${nodeIP(1)}:30080/`), ['endpoint-1', 'endpoint-2'], 'NodePort on node 1 from outside');
    t.same(await answerers(outside, `http://${nodeIP(2)}:30080/`), ['endpoint-1', 'endpoint-2'], 'NodePort on node 2 from outside');

    for (const p of proxiers) {
      p.endpointSlice(slice(true), slice(false));
      await p.sync();
    }
    t.same(await hits(nodes[0]!, `http://${clusterIP}/`, 10), { 'endpoint-1': 10 }, 'after the sync the unready endpoint gets nothing');
    t.same(await hits(outside, `http://${nodeIP(2)}:30080/`, 10), { 'endpoint-1': 10 }, 'nor through the NodePort');

    // No endpoints at all: connections are refused at once (REJECT), not left to time out.
    for (const p of proxiers) {
      p.endpointSlice(slice(false), null);
      await p.sync();
    }
    const refused = await (async () => {
      const r = await (await import('execa')).execa('ip', ['netns', 'exec', nodes[0]!, 'curl', '-s', '--max-time', '3', `http://${clusterIP}/`], { reject: false });
      return r.exitCode;
    })();
    t.equal(refused, 7, 'curl: connection refused (exit 7)');
  });
}

t.test('a bad payload is reported with its line and leaves the rules in place', async (t) => {
  const { nodes, proxiers, backends, hits, answerers } = await buildLab(t, 'nft');
  const p = proxiers[0]!;
  p.service(null, service);
  p.endpointSlice(null, slice(true));
  await p.sync();
  const applier = new IptablesApplier(netnsExecutor(nodes[0]!), 'nft');
  const bad = ['*nat', ':KUBE-SERVICES - [0:0]', '-A KUBE-SERVICES -p tcp --dport 80 -m no-such-match -j ACCEPT', 'COMMIT', ''].join('\n');
  const err = await applier.restore(bad).catch((e: unknown) => e);
  t.type(err, IptablesRestoreError);
  t.equal((err as IptablesRestoreError).line, 3, 'the failing line is named');
  t.match((err as Error).message, />\s+3: -A KUBE-SERVICES .*no-such-match/, 'with the payload lines around it');
  t.same(await answerers(nodes[0]!, `http://${clusterIP}/`), ['endpoint-1', 'endpoint-2'], 'the service still works');

  // Someone flushes a jump rule: the check notices, and the next sync puts it back.
  t.equal(await applier.jumpsInPlace(), true);
  const del = await netnsExecutor(nodes[0]!).run('iptables-nft', ['-t', 'nat', '-D', 'OUTPUT', '-m', 'comment', '--comment', 'kubernetes service portals', '-j', 'KUBE-SERVICES']);
  t.equal(del.exitCode, 0, 'jump from nat OUTPUT deleted');
  t.equal(await applier.jumpsInPlace(), false, 'missing jump detected');
  t.same(await hits(nodes[0]!, `http://${clusterIP}/`, 1), { error: 1 }, 'the node itself no longer reaches the ClusterIP');
  await backends[0]!.sync({ state: p.state, changed: undefined }); // a periodic full sync checks the jumps afterwards
  await backends[0]!.idle();
  await p.sync(); // nothing changed, but the kernel state is now unknown: read it, re-insert the jump
  t.equal(await applier.jumpsInPlace(), true, 'the next sync re-inserted it');
  t.same(await answerers(nodes[0]!, `http://${clusterIP}/`), ['endpoint-1', 'endpoint-2']);
});

t.test('LoadBalancer IP with source ranges: allowed source answered, other sources dropped', async (t) => {
  const { outside, nodes, proxiers, hits, answerers, lab } = await buildLab(t, 'nft');
  const lbIP = '10.250.65.7';
  await lab.ip(outside, 'route', 'add', `${lbIP}/32`, 'via', nodeIP(1));
  const lb = (ranges: string[]) => makeService({ name: 'lb', clusterIP: '10.250.64.20', type: 'LoadBalancer', loadBalancerIPs: [lbIP],
    loadBalancerSourceRanges: ranges, ports: [{ name: 'http', port: 80, nodePort: 30081 }] });
  const lbSlice = makeSlice({ service: 'lb', ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: podIP(1), node: 'node-1' }, { ip: podIP(2), node: 'node-2' }] });
  const p = proxiers[0]!;
  p.service(null, lb(['10.250.0.0/24']));
  p.endpointSlice(null, lbSlice);
  await p.sync();
  t.same(await answerers(outside, `http://${lbIP}/`), ['endpoint-1', 'endpoint-2'], 'source inside the range');
  p.service(lb(['10.250.0.0/24']), lb(['192.0.2.0/24']));
  await p.sync();
  t.same(await hits(outside, `http://${lbIP}/`, 1), { error: 1 }, 'source outside the range: dropped');
  const saved = await netnsExecutor(nodes[0]!).run('iptables-nft-save', ['-t', 'filter']);
  t.match(saved.stdout, /-A KUBE-PROXY-FIREWALL .*-d 10\.250\.65\.7\/32 .*-j DROP/);
});

t.test('UDP: conntrack entries of a removed endpoint are deleted after the sync, others kept', async (t) => {
  const { nodes, proxiers, lab } = await buildLab(t, 'nft');
  const node = nodes[0]!;
  const p = proxiers[0]!;
  const dnsIP = '10.250.64.53';
  const dns = makeService({ name: 'dns', clusterIP: dnsIP, ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] });
  const dnsSlice = (ips: string[]) => makeSlice({ service: 'dns', ports: [{ name: 'dns', port: 5353, protocol: 'UDP' }], endpoints: ips.map((ip) => ({ ip })) });
  p.service(null, dns);
  p.endpointSlice(null, dnsSlice([podIP(1), podIP(2)]));
  await p.sync();
  // Datagrams from distinct source ports: each makes a conntrack entry DNATed to one endpoint (no server needed).
  for (let k = 0; k < 24; k++) await lab.exec(node, 'bash', ['-c', `echo hi > /dev/udp/${dnsIP}/53`]);
  const entries = async () => String((await lab.exec(node, 'conntrack', ['-L', '-p', 'udp', '--orig-dst', dnsIP])).stdout);
  const before = await entries();
  t.match(before, new RegExp(`src=${podIP(1).replace(/\./g, '\\.')} `), 'entries to endpoint 1');
  t.match(before, new RegExp(`src=${podIP(2).replace(/\./g, '\\.')} `), 'entries to endpoint 2');
  p.endpointSlice(dnsSlice([podIP(1), podIP(2)]), dnsSlice([podIP(1)]));
  await p.sync();
  const after = await entries();
  t.notMatch(after, new RegExp(`src=${podIP(2).replace(/\./g, '\\.')} `), 'entries to the removed endpoint are gone');
  t.match(after, new RegExp(`src=${podIP(1).replace(/\./g, '\\.')} `), 'entries to the remaining endpoint stay');
});
