// The whole data path for Services: a real apiserver (etcd 3.4 + bin/kts apiserver, from the shared harness)
// holds a Service and its EndpointSlice; the proxy watches them through client/ informers (ApiSource) and
// programs real iptables inside a node namespace of ours; curl from that node reaches the endpoints.
// Changing the slice through the API changes which endpoints answer. Needs root.
import t from 'tap';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { startControlPlane } from '../harness/controlplane.ts';
import { RestClient, resources } from '../../../client/index.ts';
import { NetLab } from '../../../agent/proxy/netlab.ts';
import { netnsExecutor } from '../../../agent/proxy/exec.ts';
import { ApiSource } from '../../../agent/proxy/apisource.ts';
import { runProxy } from '../../../agent/proxy/main.ts';
import { defaultConfig, validate } from '../../../agent/proxy/config.ts';
import { makeSlice } from '../../../agent/proxy/fixtures.ts';
import { serviceChain } from '../../../agent/proxy/hash.ts';
import pino from 'pino';

t.test('Service and EndpointSlice from the apiserver reach the kernel', async (t) => {
  const cp = await startControlPlane();
  t.teardown(() => cp.stop());
  const lab = new NetLab();
  t.teardown(() => lab.cleanup());

  // One node namespace with a pod bridge and two endpoint namespaces on it.
  const node = await lab.netns('n');
  await lab.ip(node, 'link', 'add', 'cni0', 'type', 'bridge');
  await lab.ip(node, 'addr', 'add', '10.250.129.1/24', 'dev', 'cni0');
  await lab.ip(node, 'link', 'set', 'cni0', 'up');
  await lab.ip(node, 'route', 'add', 'default', 'via', '10.250.129.1');
  for (const i of [2, 3]) {
    const pod = await lab.netns(`p${i}`);
    await lab.veth(pod, 'eth0', node, `vp${i}`);
    await lab.ip(node, 'link', 'set', `vp${i}`, 'master', 'cni0');
    await lab.ip(pod, 'addr', 'add', `10.250.129.${i}/24`, 'dev', 'eth0');
    await lab.ip(pod, 'route', 'add', 'default', 'via', '10.250.129.1');
    await lab.httpd(pod, 8080, `endpoint-${i}`);
  }

  const client = new RestClient({ server: cp.server, qps: 0 });
  t.teardown(() => client.close());
  const svc = await client.create<V1Service>({ ...resources.services, namespace: 'default' }, {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' },
    spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' as never }] },
  });
  const clusterIP = svc.spec!.clusterIP!;
  t.match(clusterIP, /^\d+\.\d+\.\d+\.\d+$/, 'the apiserver allocated a ClusterIP');
  const sliceRef = { ...resources.endpointslices, namespace: 'default' };
  const endpoints = (thirdReady: boolean) => makeSlice({ service: 'web', name: 'web-x1', ports: [{ name: 'http', port: 8080 }],
    endpoints: [{ ip: '10.250.129.2', node: 'n1' }, { ip: '10.250.129.3', node: 'n1', ready: thirdReady }] });
  await client.create<V1EndpointSlice>(sliceRef, endpoints(true));

  const cfg = validate({ ...defaultConfig, hostnameOverride: 'n1', clusterCIDR: '10.250.128.0/17', healthzBindAddress: '127.0.0.1:0', metricsBindAddress: '127.0.0.1:0', minSyncPeriodMs: 100 });
  const proxy = await runProxy(cfg, { source: new ApiSource(client), exec: netnsExecutor(node), log: pino({ level: 'silent' }) });
  t.teardown(() => proxy.stop());

  const answers = async (n: number) => {
    const seen: Record<string, number> = {};
    for (let k = 0; k < n; k++) {
      const r = await lab.exec(node, 'curl', ['-s', '--max-time', '3', `http://${clusterIP}/`]);
      const who = r.exitCode === 0 ? String(r.stdout).trim() : `curl exit ${r.exitCode}`;
      seen[who] = (seen[who] ?? 0) + 1;
    }
    return seen;
  };
  const until = async (what: string, ok: () => Promise<boolean>) => {
    for (let i = 0; i < 200; i++) { if (await ok()) return; await new Promise((r) => setTimeout(r, 50)); }
    t.fail(`timed out waiting for ${what}`);
  };

  await until('the first sync', async () => proxy.proxier.syncCount > 0 && proxy.proxier.lastError === null);
  t.same(Object.keys(await answers(16)).sort(), ['endpoint-2', 'endpoint-3'], 'curl to the ClusterIP: both endpoints answer');

  const current = await client.get<V1EndpointSlice>({ ...sliceRef, name: 'web-x1' });
  await client.update<V1EndpointSlice>({ ...sliceRef, name: 'web-x1' }, { ...endpoints(false), metadata: current.metadata });
  await until('the unready endpoint to leave the rules', async () => !(proxy.proxier.state.endpoints.get('default/web:http') ?? []).some((e) => e.ip === '10.250.129.3' && e.ready));
  await proxy.proxier.runner.idle();
  await until('a sync after the change', async () => (await proxy.proxier.metrics.networkProgramming.get()).values.some((v) => v.metricName?.endsWith('_count') && v.value >= 2));
  t.same(await answers(8), { 'endpoint-2': 8 }, 'after the slice update only the ready endpoint answers');

  await client.delete({ ...resources.services, namespace: 'default', name: 'web' });
  await until('the service to leave the model', async () => !proxy.proxier.state.services.has('default/web:http'));
  await proxy.proxier.runner.idle();
  const webChain = serviceChain('default/web:http', 'tcp');
  const natRules = async () => {
    const r = await lab.exec(node, 'iptables-nft-save', ['-t', 'nat']);
    if (r.exitCode !== 0) throw new Error(`iptables-nft-save: ${r.stderr}`);
    return String(r.stdout);
  };
  t.match(await natRules(), /:KUBE-SERVICES/, 'rules are read from the node namespace');
  await until('the sync removing it', async () => !(await natRules()).includes(webChain));
  t.notMatch(await natRules(), webChain, 'the service\'s chains are gone after it is deleted');
});
