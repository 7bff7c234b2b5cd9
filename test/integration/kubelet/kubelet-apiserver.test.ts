// The whole node path with real programs: etcd 3.4 + `kts apiserver` on loopback, containerd in a network
// namespace, and the kubelet (RestKubeletApi over client/) in between. A pod created through the API (and
// read back with the real kubectl) becomes Running and Ready and answers curl on its pod IP; the node has
// a Ready condition and a Lease; deleting the pod through the API removes it from containerd and the API.
import t from 'tap';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { V1Lease, V1Node, V1Pod } from '@kubernetes/client-node';
import { RestClient } from '../../../client/rest.ts';
import { resources } from '../../../client/resources.ts';
import { CriClient } from '../../../agent/cri/client.ts';
import { BUSYBOX_IMAGE } from '../../../agent/images/build.ts';
import { DEFAULT_KUBELET_CONFIG, Kubelet } from '../../../agent/kubelet/kubelet.ts';
import { RestKubeletApi } from '../../../agent/kubelet/rest-api.ts';
import { startContainerdNode } from '../harness/containerd.ts';
import { startControlPlane } from '../harness/controlplane.ts';
import { until } from '../../support/until.ts';

const run = promisify(execFile);


t.test('kubelet with the real apiserver and containerd', async (t) => {
  const [cp, node] = await Promise.all([startControlPlane(), startContainerdNode({ hostRoute: true })]);
  t.teardown(() => Promise.all([cp.stop(), node.stop()]));
  const client = new RestClient({ server: cp.server, qps: 0 });
  t.teardown(() => client.close());
  const runtime = new CriClient(node.endpoint);
  const nodeName = `node-${node.suffix}`;
  const kubelet = new Kubelet({ api: new RestKubeletApi(client), runtime, config: { ...DEFAULT_KUBELET_CONFIG, nodeName, hostname: nodeName,
    nodeIP: node.nodeIP, rootDir: path.join(node.dir, 'kubelet'), logRoot: path.join(node.dir, 'pods'), cgroupRoot: node.cgroupParent,
    plegPeriodMs: 300, resyncPeriodMs: 2000, nodeLabels: { 'node-role.kubernetes.io/worker': '' } } });
  t.teardown(async () => {
    await kubelet.stop();
    runtime.close();
  });
  await kubelet.start();

  const nodeObj = await client.get<V1Node>({ ...resources.nodes, name: nodeName });
  t.equal(nodeObj.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
  t.equal(nodeObj.metadata?.labels?.['kubernetes.io/os'], 'linux');
  t.equal(nodeObj.status?.addresses?.find((a) => a.type === 'InternalIP')?.address, node.nodeIP);
  const lease = await until('lease', () => client.get<V1Lease>({ ...resources.leases, namespace: 'kube-node-lease', name: nodeName }));
  t.equal(lease.spec?.holderIdentity, nodeName);

  const created = await client.create<V1Pod>({ ...resources.pods, namespace: 'default' }, {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', labels: { app: 'web' } },
    spec: { nodeName, terminationGracePeriodSeconds: 1, containers: [{ name: 'web', image: BUSYBOX_IMAGE, imagePullPolicy: 'IfNotPresent',
      command: ['httpd', '-f', '-p', '8080', '-h', '/www'], ports: [{ containerPort: 8080 }],
      readinessProbe: { httpGet: { path: '/', port: 8080 as unknown as number }, periodSeconds: 1 } }] },
  });
  const ready = await until('pod Ready', async () => {
    const p = await client.get<V1Pod>({ ...resources.pods, namespace: 'default', name: 'web' });
    return p.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' && p;
  });
  t.equal(ready.status?.phase, 'Running');
  t.equal(ready.status?.hostIP, node.nodeIP);
  const res = await fetch(`http://${ready.status!.podIP}:8080/`, { signal: AbortSignal.timeout(10_000) });
  t.match(await res.text(), /hello from busybox httpd/);
  const kubectl = await run('kubectl', ['--server', cp.server, 'get', 'pod', 'web', '-o', 'jsonpath={.status.phase} {.status.containerStatuses[0].ready}'], { timeout: 30_000 });
  t.equal(kubectl.stdout, 'Running true', 'kubectl sees the status the kubelet wrote');

  await client.delete({ ...resources.pods, namespace: 'default', name: 'web' }, { gracePeriodSeconds: 1 });
  await until('pod gone from the API', async () => {
    try {
      await client.get({ ...resources.pods, namespace: 'default', name: 'web' });
      return false;
    } catch (err) {
      return (err as { reason?: string }).reason === 'NotFound';
    }
  });
  const left = await runtime.listPodSandbox({ label_selector: { 'io.kubernetes.pod.uid': created.metadata!.uid! } });
  t.same(left, [], 'sandbox removed from containerd');
});
