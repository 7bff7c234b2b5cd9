// CRI client against a real containerd in a network namespace: a busybox httpd pod reaches RUNNING and
// answers curl on its pod IP from inside the node netns; everything is stopped and removed after.
import t from 'tap';
import { existsSync } from 'node:fs';
import { CriClient } from '../../../agent/cri/client.ts';
import { BUSYBOX_IMAGE, PAUSE_IMAGE } from '../../../agent/images/build.ts';
import { startContainerdNode } from '../harness/containerd.ts';
import type { PodSandboxConfig } from '../../../agent/cri/types.ts';

t.test('RunPodSandbox + busybox httpd, curl from the node netns', async (t) => {
  const node = await startContainerdNode();
  t.teardown(() => node.stop());
  const cri = new CriClient(node.endpoint);
  t.teardown(() => cri.close());

  const version = await cri.version();
  t.equal(version.runtime_name, 'containerd');
  t.equal(version.runtime_api_version, 'v1');
  const status = await cri.status();
  const ready = Object.fromEntries((status.status?.conditions ?? []).map((c) => [c.type, c.status]));
  t.same(ready, { RuntimeReady: true, NetworkReady: true });

  t.ok(await cri.imageStatus(PAUSE_IMAGE), 'pause image imported');
  t.ok(await cri.imageStatus(BUSYBOX_IMAGE), 'busybox image imported');
  t.equal(await cri.imageStatus('localhost/kts/nope:1'), null, 'a missing image is null, not an error');
  await t.rejects(cri.pullImage('localhost/kts/nope:1'), /nope/, 'pulling a missing image fails');

  const logDir = `${node.dir}/pods/default_web_uid1`;
  const sandbox: PodSandboxConfig = {
    metadata: { name: 'web', uid: 'uid1', namespace: 'default', attempt: 0 },
    hostname: 'web',
    log_directory: logDir,
    labels: { 'io.kubernetes.pod.uid': 'uid1' },
    linux: { cgroup_parent: `${node.cgroupParent}/pod-uid1`,
      security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
  };
  const sandboxId = await cri.runPodSandbox(sandbox);
  const sbStatus = await cri.podSandboxStatus(sandboxId);
  t.equal(sbStatus.state, 'SANDBOX_READY');
  const podIp = sbStatus.network?.ip ?? '';
  t.match(podIp, new RegExp(`^${node.podCidr.split('.').slice(0, 3).join('\\.')}\\.`), 'pod IP from the node pod CIDR');

  const containerId = await cri.createContainer(sandboxId, {
    metadata: { name: 'httpd', attempt: 0 },
    image: { image: BUSYBOX_IMAGE },
    command: ['/bin/httpd'],
    args: ['-f', '-p', '8080', '-h', '/www'],
    envs: [{ key: 'GREETING', value: 'hi' }],
    log_path: 'httpd/0.log',
    linux: { resources: { memory_limit_in_bytes: 64 * 1024 * 1024, cpu_shares: 256 } },
  }, sandbox);
  await cri.startContainer(containerId);
  const cs = await cri.containerStatus(containerId);
  t.equal(cs.state, 'CONTAINER_RUNNING');
  t.equal(cs.metadata.name, 'httpd');

  const exec = await cri.execSync(containerId, ['sh', '-c', 'echo $GREETING; hostname'], 10);
  t.equal(exec.exit_code, 0);
  t.equal(exec.stdout.toString(), 'hi\nweb\n');
  const failing = await cri.execSync(containerId, ['sh', '-c', 'exit 3'], 10);
  t.equal(failing.exit_code, 3);

  const curl = await node.exec('curl', ['-sS', '--max-time', '5', `http://${podIp}:8080/`]);
  t.match(curl.stdout, /hello from busybox httpd/);

  const listed = await cri.listContainers({ pod_sandbox_id: sandboxId });
  t.same(listed.map((c) => c.id), [containerId]);
  t.ok(existsSync(`${logDir}/httpd/0.log`), 'CRI log file written where the kubelet asked');
  t.ok(existsSync(`/sys/fs/cgroup/memory${node.cgroupParent}/pod-uid1`), 'pod cgroup under the per-node parent');

  await cri.stopContainer(containerId, 0);
  t.equal((await cri.containerStatus(containerId)).state, 'CONTAINER_EXITED');
  await cri.removeContainer(containerId);
  await cri.stopPodSandbox(sandboxId);
  await cri.removePodSandbox(sandboxId);
  t.same(await cri.listPodSandbox(), []);
});
