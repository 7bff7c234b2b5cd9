// NetworkReady from a real containerd: with no CNI config the node is NotReady and says why; once a
// controller assigns spec.podCIDR the kubelet writes the CNI config, containerd picks it up and the node
// turns Ready by itself, and a pod gets an address from that CIDR.
import t from 'tap';
import path from 'node:path';
import { CriClient } from '../../../agent/cri/client.ts';
import { BUSYBOX_IMAGE } from '../../../agent/images/build.ts';
import { FakeKubeletApi } from '../../../agent/kubelet/fake-api.ts';
import { DEFAULT_KUBELET_CONFIG, Kubelet } from '../../../agent/kubelet/kubelet.ts';
import { startContainerdNode } from '../harness/containerd.ts';
import { until } from '../../support/until.ts';


t.test('node Ready follows CNI configuration', async (t) => {
  const node = await startContainerdNode({ hostRoute: true, writeCni: false });
  t.teardown(() => node.stop());
  const runtime = new CriClient(node.endpoint);
  const api = new FakeKubeletApi();
  const kubelet = new Kubelet({ api, runtime, config: { ...DEFAULT_KUBELET_CONFIG, nodeName: 'netnode', hostname: 'netnode',
    nodeIP: node.nodeIP, rootDir: path.join(node.dir, 'kubelet'), logRoot: path.join(node.dir, 'pods'), cgroupRoot: node.cgroupParent,
    cniConfDir: node.cniConfDir, plegPeriodMs: 300, resyncPeriodMs: 500, statusIntervalMs: 300 } });
  t.teardown(async () => {
    await kubelet.stop();
    runtime.close();
  });
  await kubelet.start();
  const readyCond = () => api.nodes.get('netnode')?.status?.conditions?.find((c) => c.type === 'Ready');
  t.equal(readyCond()?.status, 'False', 'no CNI config: NotReady');
  t.match(readyCond()?.message, /container runtime network not ready: NetworkReady=false/);

  api.putPod({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default', uid: 'uid-net-p' },
    spec: { nodeName: 'netnode', terminationGracePeriodSeconds: 0,
      containers: [{ name: 'c', image: BUSYBOX_IMAGE, command: ['sleep', '3600'] }] } });

  // A node-ipam controller assigns the CIDR.
  api.nodes.get('netnode')!.spec = { podCIDR: node.podCidr, podCIDRs: [node.podCidr] };
  await until('node Ready', () => readyCond()?.status === 'True');
  t.equal(readyCond()?.reason, 'KubeletReady');
  const st = await until('pod Running', () => api.pod('default', 'p')?.status?.phase === 'Running' && api.pod('default', 'p')!.status!);
  t.match(st.podIP, new RegExp(`^${node.podCidr.split('.').slice(0, 3).join('\\.')}\\.`), 'pod IP from the assigned CIDR');
});
