// PodSyncer against the fake runtime: sandbox + containers, phases and conditions, restart back-off,
// image and command errors, init containers, graceful deletion.
import t from 'tap';
import { harness, makePod } from './fixtures/helpers.ts';

t.test('a pod runs: sandbox, container, status with IP, Ready and QoS', async (t) => {
  const h = harness(t);
  const pod = h.api.putPod(makePod('web'));
  await h.sync(pod);
  t.equal(h.runtime.sandboxes.size, 1);
  const [sb] = [...h.runtime.sandboxes.values()];
  t.equal(sb!.config.dns_config?.servers[0], '10.96.0.10');
  t.same(sb!.config.dns_config?.searches, ['default.svc.cluster.local', 'svc.cluster.local', 'cluster.local']);
  t.equal(sb!.config.linux?.cgroup_parent, '/kts/kubepods/besteffort/poduid-web');
  t.equal(sb!.config.hostname, 'web');
  const st = h.api.pod('default', 'web')!.status!;
  t.equal(st.phase, 'Running');
  t.match(st.podIP, /^10\.88\.0\./);
  t.equal(st.hostIP, '192.0.2.10');
  t.equal(st.qosClass, 'BestEffort');
  t.equal(st.containerStatuses![0]!.ready, true);
  t.ok(st.containerStatuses![0]!.state!.running);
  t.match(st.containerStatuses![0]!.containerID, /^containerd:\/\//);
  const cond = Object.fromEntries(st.conditions!.map((c) => [c.type, c.status]));
  t.same(cond, { Initialized: 'True', Ready: 'True', ContainersReady: 'True', PodScheduled: 'True' });
  // A second sync with nothing changed writes nothing.
  const writes = h.status.writes;
  await h.sync(pod);
  t.equal(h.status.writes, writes, 'status manager patches only changes');
  t.equal(h.runtime.containers.size, 1, 'no second container');
});

t.test('crashing container: restart, then CrashLoopBackOff doubling from 10 s', async (t) => {
  const h = harness(t, { onStart: () => 1 });
  const pod = h.api.putPod(makePod('crash'));
  await h.sync(pod); // attempt 0 starts and exits 1
  await h.sync(pod); // first restart is immediate (attempt 1)
  let cs = h.api.pod('default', 'crash')!.status!.containerStatuses![0]!;
  t.equal(cs.restartCount, 1);
  await h.sync(pod); // in back-off now
  cs = h.api.pod('default', 'crash')!.status!.containerStatuses![0]!;
  t.equal(cs.state?.waiting?.reason, 'CrashLoopBackOff');
  t.match(cs.state?.waiting?.message, /back-off 10s restarting failed container=app pod=crash_default\(uid-crash\)/);
  t.equal(cs.lastState?.terminated?.exitCode, 1);
  t.equal(h.api.pod('default', 'crash')!.status!.phase, 'Running', 'a restarting pod stays Running');
  const wake = h.wakeups.at(-1)!;
  t.equal(wake.at - h.clock.ms, 10_000, 'woken when the back-off ends');
  h.clock.ms += 10_000;
  await h.sync(pod);
  cs = h.api.pod('default', 'crash')!.status!.containerStatuses![0]!;
  t.equal(cs.restartCount, 2);
  await h.sync(pod);
  t.match(h.api.pod('default', 'crash')!.status!.containerStatuses![0]!.state?.waiting?.message, /back-off 20s/);
  t.ok(h.runtime.containers.size <= 2, 'only the newest two instances are kept');
  await h.sync(pod);
  await h.sync(pod);
  const backOff = h.api.events.filter((e) => e.reason === 'BackOff');
  t.equal(backOff.length, 1, 'the repeated BackOff is one Event');
  t.equal(backOff[0]?.count, 2, 'counted once per back-off window');
  t.equal(backOff[0]?.involvedObject?.fieldPath, 'spec.containers{app}');
});

t.test('restartPolicy Never and OnFailure decide the phase', async (t) => {
  const h = harness(t, { onStart: (cfg) => (cfg.command?.[0] === 'fail' ? 3 : 0) });
  const ok = h.api.putPod(makePod('ok', { restartPolicy: 'Never', containers: [{ name: 'a', image: 'busybox:1', command: ['true'] }] }));
  await h.sync(ok);
  t.equal(h.api.pod('default', 'ok')!.status!.phase, 'Succeeded');
  t.equal(h.api.pod('default', 'ok')!.status!.containerStatuses![0]!.state?.terminated?.reason, 'Completed');
  const sb = [...h.runtime.sandboxes.values()].find((s) => s.config.metadata.name === 'ok')!;
  t.equal(sb.status.state, 'SANDBOX_NOTREADY', 'sandbox of a finished pod is stopped');
  await h.sync(ok);
  t.equal(h.runtime.containersNamed('a').length, 1, 'a finished pod is not restarted');

  const bad = h.api.putPod(makePod('bad', { restartPolicy: 'Never', containers: [{ name: 'b', image: 'busybox:1', command: ['fail'] }] }));
  await h.sync(bad);
  t.equal(h.api.pod('default', 'bad')!.status!.phase, 'Failed');
  t.equal(h.api.pod('default', 'bad')!.status!.containerStatuses![0]!.state?.terminated?.exitCode, 3);

  const onf = h.api.putPod(makePod('onf', { restartPolicy: 'OnFailure', containers: [{ name: 'c', image: 'busybox:1', command: ['true'] }] }));
  await h.sync(onf);
  t.equal(h.api.pod('default', 'onf')!.status!.phase, 'Succeeded');
});

t.test('missing image: ErrImagePull, then ImagePullBackOff; other pods keep running', async (t) => {
  const h = harness(t);
  const bad = h.api.putPod(makePod('noimg', { containers: [{ name: 'x', image: 'localhost/nope:1' }] }));
  const good = h.api.putPod(makePod('good'));
  await h.sync(bad);
  await h.sync(good);
  let cs = h.api.pod('default', 'noimg')!.status!.containerStatuses![0]!;
  t.equal(cs.state?.waiting?.reason, 'ErrImagePull');
  t.match(cs.state?.waiting?.message, /nope/);
  t.equal(h.api.pod('default', 'noimg')!.status!.phase, 'Pending');
  await h.sync(bad);
  cs = h.api.pod('default', 'noimg')!.status!.containerStatuses![0]!;
  t.equal(cs.state?.waiting?.reason, 'ImagePullBackOff');
  t.equal(h.api.pod('default', 'good')!.status!.phase, 'Running');
  t.ok(h.api.events.some((e) => e.reason === 'Failed' && /Failed to pull image/.test(e.message ?? '')));
});

t.test('imagePullPolicy Never with a missing image: ErrImageNeverPull', async (t) => {
  const h = harness(t);
  const pod = h.api.putPod(makePod('never', { containers: [{ name: 'x', image: 'localhost/absent:1', imagePullPolicy: 'Never' }] }));
  await h.sync(pod);
  t.equal(h.api.pod('default', 'never')!.status!.containerStatuses![0]!.state?.waiting?.reason, 'ErrImageNeverPull');
  t.notOk(h.runtime.calls.includes('PullImage'));
});

t.test('a command that does not exist: RunContainerError, then back-off', async (t) => {
  const h = harness(t, { onStart: (cfg) => {
    if (cfg.command?.[0] === '/no/such') throw new Error('exec: "/no/such": stat /no/such: no such file or directory');
    return undefined;
  } });
  const pod = h.api.putPod(makePod('nocmd', { containers: [{ name: 'x', image: 'busybox:1', command: ['/no/such'] }] }));
  await h.sync(pod);
  const cs = h.api.pod('default', 'nocmd')!.status!.containerStatuses![0]!;
  t.equal(cs.state?.waiting?.reason, 'RunContainerError');
  t.match(cs.state?.waiting?.message, /no such file/);
  await h.sync(pod);
  t.equal(h.api.pod('default', 'nocmd')!.status!.containerStatuses![0]!.state?.waiting?.reason, 'CrashLoopBackOff');
});

t.test('init containers run in order before app containers', async (t) => {
  const h = harness(t);
  const pod = h.api.putPod(makePod('init', {
    initContainers: [{ name: 'i1', image: 'busybox:1' }, { name: 'i2', image: 'busybox:1' }],
  }));
  await h.sync(pod);
  t.same([...h.runtime.containers.values()].map((c) => c.status.metadata.name), ['i1']);
  let st = h.api.pod('default', 'init')!.status!;
  t.equal(st.phase, 'Pending');
  t.equal(st.containerStatuses![0]!.state?.waiting?.reason, 'PodInitializing');
  t.equal(st.conditions!.find((c) => c.type === 'Initialized')!.status, 'False');
  h.runtime.exitContainer(h.runtime.containersNamed('i1')[0]!.status.id, 0);
  await h.sync(pod);
  t.same(h.runtime.containersNamed('i2').length, 1, 'second init container started after the first succeeded');
  t.same(h.runtime.containersNamed('app').length, 0);
  h.runtime.exitContainer(h.runtime.containersNamed('i2')[0]!.status.id, 0);
  await h.sync(pod);
  st = h.api.pod('default', 'init')!.status!;
  t.equal(st.phase, 'Running');
  t.equal(st.conditions!.find((c) => c.type === 'Initialized')!.status, 'True');
  t.equal(st.initContainerStatuses!.length, 2);
});

t.test('env from fieldRef, configMap and secret; missing configMap is CreateContainerConfigError', async (t) => {
  const h = harness(t);
  h.api.configMaps.set('default/cfg', { metadata: { name: 'cfg', namespace: 'default' }, data: { mode: 'fast' } });
  h.api.secrets.set('default/sec', { metadata: { name: 'sec', namespace: 'default' }, data: { pw: Buffer.from('s3cret').toString('base64') } });
  const pod = h.api.putPod(makePod('env', { containers: [{ name: 'x', image: 'busybox:1', command: ['echo', '$(GREETING) $(MODE)'], env: [
    { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
    { name: 'MODE', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'mode' } } },
    { name: 'PW', valueFrom: { secretKeyRef: { name: 'sec', key: 'pw' } } },
    { name: 'GREETING', value: 'hi-$(POD)' },
  ] }] }));
  await h.sync(pod);
  const c = h.runtime.containersNamed('x')[0]!;
  const env = Object.fromEntries(c.config.envs!.map((e) => [e.key, e.value]));
  t.equal(env.POD, 'env');
  t.match(env.IP, /^10\.88\.0\./);
  t.equal(env.MODE, 'fast');
  t.equal(env.PW, 's3cret');
  t.equal(env.GREETING, 'hi-env');
  t.same(c.config.command, ['echo', 'hi-env fast']);

  const bad = h.api.putPod(makePod('badenv', { containers: [{ name: 'y', image: 'busybox:1',
    env: [{ name: 'A', valueFrom: { configMapKeyRef: { name: 'missing', key: 'k' } } }] }] }));
  await h.sync(bad);
  const cs = h.api.pod('default', 'badenv')!.status!.containerStatuses![0]!;
  t.equal(cs.state?.waiting?.reason, 'CreateContainerConfigError');
  t.match(cs.state?.waiting?.message, /configmap "missing" not found/);
});

t.test('graceful deletion stops and removes everything, then deletes the pod object', async (t) => {
  const h = harness(t);
  const pod = h.api.putPod(makePod('gone', { terminationGracePeriodSeconds: 7 }));
  await h.sync(pod);
  h.api.markDeleted('default', 'gone', 7);
  await h.sync(h.api.pod('default', 'gone'));
  t.equal(h.runtime.sandboxes.size, 0);
  t.equal(h.runtime.containers.size, 0);
  t.same(h.api.deleted, ['default/gone']);
  const calls = h.runtime.calls;
  t.ok(calls.indexOf('StopContainer') >= 0 && calls.indexOf('StopContainer') < calls.indexOf('StopPodSandbox'),
    'containers stop before the sandbox');
  t.ok(calls.indexOf('StopPodSandbox') < calls.indexOf('RemovePodSandbox'), 'the sandbox stops before it is removed');
});

t.test('orphans (pod gone from the API) are removed', async (t) => {
  const h = harness(t);
  const pod = h.api.putPod(makePod('orphan'));
  await h.sync(pod);
  await h.sync(undefined, 'uid-orphan');
  t.equal(h.runtime.sandboxes.size, 0);
  t.equal(h.runtime.containers.size, 0);
});

t.test('hostNetwork pods: no hostname, node namespace, host IP as pod IP', async (t) => {
  const h = harness(t);
  const pod = h.api.putPod(makePod('hn', { hostNetwork: true }));
  await h.sync(pod);
  const sb = [...h.runtime.sandboxes.values()][0]!;
  t.equal(sb.config.hostname, '');
  t.equal(sb.config.linux?.security_context?.namespace_options?.network, 'NODE');
  t.equal(h.api.pod('default', 'hn')!.status!.podIP, '192.0.2.10');
});

t.test('liveness kill restarts the container', async (t) => {
  const h = harness(t);
  const pod = h.api.putPod(makePod('live'));
  await h.sync(pod);
  const first = h.runtime.containersNamed('app')[0]!.status.id;
  h.syncer.markUnhealthy('uid-live', first, 'HTTP probe failed with statuscode: 500');
  await h.sync(pod);
  t.equal(h.runtime.containers.get(first)!.status.state, 'CONTAINER_EXITED');
  const cs = h.api.pod('default', 'live')!.status!.containerStatuses![0]!;
  t.equal(cs.restartCount, 1);
  t.ok(cs.state?.running);
  t.ok(h.api.events.some((e) => e.reason === 'Killing' && /liveness/.test(e.message ?? '')));
});

t.test('projected service-account token: requested bound to the pod, cached between syncs', async (t) => {
  const h = harness(t);
  const pod = h.api.putPod(makePod('sa', {
    serviceAccountName: 'builder',
    volumes: [{ name: 'kube-api-access', projected: { sources: [
      { serviceAccountToken: { path: 'token', expirationSeconds: 3600, audience: 'api' } },
      { downwardAPI: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }] } }] } }],
    containers: [{ name: 'app', image: 'busybox:1', volumeMounts: [{ name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }] }],
  }));
  await h.sync(pod);
  await h.sync(pod);
  t.equal(h.api.tokenRequests.length, 1, 'one TokenRequest for two syncs');
  t.same(h.api.tokenRequests[0], { namespace: 'default', serviceAccount: 'builder', audiences: ['api'], expirationSeconds: 3600, podName: 'sa', podUid: 'uid-sa' });
  const mount = h.runtime.containersNamed('app')[0]!.config.mounts![0]!;
  const { readFileSync } = await import('node:fs');
  t.equal(readFileSync(`${mount.host_path}/token`, 'utf8'), 'token-for-default-builder-sa');
  t.equal(readFileSync(`${mount.host_path}/namespace`, 'utf8'), 'default');
  h.clock.ms += 3000 * 1000;
  await h.sync(pod);
  t.equal(h.api.tokenRequests.length, 2, 'renewed after 80% of its lifetime');
});

t.test('preStop runs inside the grace period before StopContainer', async (t) => {
  const execs: string[][] = [];
  const h = harness(t, { onExec: (_id, cmd) => { execs.push(cmd); return { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), exit_code: 0 }; } });
  const pod = h.api.putPod(makePod('stop', { terminationGracePeriodSeconds: 20, containers: [{ name: 'app', image: 'busybox:1',
    lifecycle: { preStop: { exec: { command: ['sh', '-c', 'nginx -s quit'] } } } }] }));
  await h.sync(pod);
  h.runtime.calls.length = 0;
  h.api.markDeleted('default', 'stop', 20);
  await h.sync(h.api.pod('default', 'stop'));
  t.same(execs, [['sh', '-c', 'nginx -s quit']]);
  t.ok(h.runtime.calls.indexOf('ExecSync') < h.runtime.calls.indexOf('StopContainer'), 'hook before stop');
});

t.test('container config: security context, resources, resourceFieldRef env, ports to hostPort mappings', async (t) => {
  const h = harness(t);
  const pod = h.api.putPod(makePod('sec', {
    securityContext: { runAsUser: 1000, runAsGroup: 2000 },
    containers: [{ name: 'app', image: 'busybox:1', workingDir: '/tmp',
      ports: [{ containerPort: 80, hostPort: 8080 }],
      securityContext: { privileged: true, capabilities: { add: ['NET_ADMIN'], drop: ['ALL'] }, allowPrivilegeEscalation: false },
      resources: { requests: { cpu: '100m', memory: '32Mi' }, limits: { cpu: '200m', memory: '64Mi' } },
      env: [{ name: 'LIM', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
        { name: 'CPU', valueFrom: { resourceFieldRef: { resource: 'requests.cpu', divisor: '1m' } } }] }],
  }));
  await h.sync(pod);
  const c = h.runtime.containersNamed('app')[0]!.config;
  const sc = c.linux!.security_context!;
  t.equal(sc.privileged, true);
  t.same(sc.capabilities, { add_capabilities: ['NET_ADMIN'], drop_capabilities: ['ALL'] });
  t.same(sc.run_as_user, { value: 1000 });
  t.same(sc.run_as_group, { value: 2000 });
  t.equal(sc.no_new_privs, true);
  t.equal(c.working_dir, '/tmp');
  t.equal(c.linux!.resources!.memory_limit_in_bytes, 64 * 1024 * 1024);
  t.equal(c.linux!.resources!.cpu_shares, 102);
  t.equal(c.linux!.resources!.cpu_quota, 20_000);
  const env = Object.fromEntries(c.envs!.map((e) => [e.key, e.value]));
  t.same(env, { LIM: '64', CPU: '100' });
  const sb = [...h.runtime.sandboxes.values()][0]!.config;
  t.same(sb.port_mappings, [{ protocol: 'TCP', container_port: 80, host_port: 8080, host_ip: '' }]);
  t.equal(sb.linux?.security_context?.privileged, true, 'a privileged container needs a privileged sandbox');
  t.equal(sb.linux?.cgroup_parent, '/kts/kubepods/burstable/poduid-sec');
  t.equal(h.api.pod('default', 'sec')!.status!.qosClass, 'Burstable');
});
