// The real kubectl drives the apiserver: once over etcd 3.4 and once over our own etcd (kts etcd).
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { writeFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import { startTestCluster, type TestCluster } from '../../control/apiserver/testing/server.ts';
import type { EtcdKind } from '../../control/apiserver/testing/etcd.ts';
import { startControllerManager } from '../../control/controller-manager/index.ts';
import { until } from '../support/until.ts';

const exec = promisify(execFile);

function kubectlFor(c: TestCluster) {
  const base = ['--kubeconfig', c.kubeconfigPath, '--cache-dir', join(c.dir, 'cache')];
  return async (args: string[], opts: { input?: string; allowFail?: boolean } = {}): Promise<{ out: string; err: string; code: number }> => {
    try {
      const p = exec('kubectl', [...base, ...args], { timeout: 60_000, maxBuffer: 16 << 20 });
      if (opts.input !== undefined) { p.child.stdin!.end(opts.input); }
      const { stdout, stderr } = await p;
      return { out: stdout, err: stderr, code: 0 };
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string; code?: number };
      if (!opts.allowFail) throw new Error(`kubectl ${args.join(' ')} failed (${err.code}): ${err.stderr}`);
      return { out: err.stdout ?? '', err: err.stderr ?? '', code: typeof err.code === 'number' ? err.code : 1 };
    }
  };
}

const deployment = (replicas: number, image: string) => `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: ${image}
        ports: [{containerPort: 80}]
      - name: side
        image: busybox:1.36
`;

async function suite(t: Test, kind: EtcdKind): Promise<void> {
  const c = await startTestCluster({}, kind);
  t.teardown(() => c.stop());
  const k = kubectlFor(c);
  // A controller-manager (every controller kts has, with leader election) runs for the whole suite, so
  // deployments get ReplicaSets and (Pending) pods and deletions cascade, as in a real cluster.
  const cm = startControllerManager({ kubeconfig: c.kubeconfigPath, log: () => {} });
  t.teardown(() => cm.stop());
  await cm.ready;

  await t.test('api-resources and version come from discovery', async (t) => {
    const { out } = await k(['api-resources']);
    t.match(out, /^pods\s+po\s+v1\s+true\s+Pod$/m);
    t.match(out, /^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment$/m);
    const v = JSON.parse((await k(['version', '-o', 'json'])).out);
    t.equal(v.serverVersion.minor, '32');
  });

  await t.test('apply creates, then updates through a strategic merge patch', async (t) => {
    const f = join(c.dir, 'd.yaml');
    writeFileSync(f, deployment(2, 'nginx:1.25'));
    t.match((await k(['apply', '-f', f])).out, 'deployment.apps/web created');
    writeFileSync(f, deployment(3, 'nginx:1.26').replace(/      - name: side\n        image: busybox:1.36\n/, ''));
    t.match((await k(['apply', '-f', f])).out, 'deployment.apps/web configured');
    const d = JSON.parse((await k(['get', 'deploy', 'web', '-o', 'json'])).out);
    t.equal(d.spec.replicas, 3);
    t.same(d.spec.template.spec.containers.map((x: { image: string }) => x.image), ['nginx:1.26'], 'the removed container is gone');
    t.equal(d.metadata.generation, 2);
    t.equal(d.spec.strategy.rollingUpdate.maxSurge, '25%', 'defaults applied');
    t.equal(d.spec.template.spec.containers[0].imagePullPolicy, 'IfNotPresent');
  });

  await t.test('get in wide, json and yaml output', async (t) => {
    // UP-TO-DATE is the deployment controller's status.updatedReplicas: 1 to 3 pods of the nginx:1.26 template,
    // depending on whether the controller saw the first apply (then the rollout stalls at maxUnavailable 0 with
    // Pending pods), and never 0 once it has observed the current spec.
    const { wide, updated } = await until('the controller to report up-to-date pods', async () => {
      const d = JSON.parse((await k(['get', 'deploy', 'web', '-o', 'json'])).out);
      if (d.status?.observedGeneration !== d.metadata.generation || !(d.status?.updatedReplicas > 0)) return false;
      const out = (await k(['get', 'deploy', '-o', 'wide'])).out;
      const again = JSON.parse((await k(['get', 'deploy', 'web', '-o', 'json'])).out);
      return again.status.updatedReplicas === d.status.updatedReplicas && { wide: out, updated: d.status.updatedReplicas as number };
    });
    t.ok(updated >= 1 && updated <= 3, `1 to 3 up to date (${updated})`);
    t.match(wide, /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\s+CONTAINERS\s+IMAGES\s+SELECTOR$/m);
    t.match(wide, new RegExp(`^web\\s+0/3\\s+${updated}\\s+0\\s+\\S+\\s+web\\s+nginx:1.26\\s+app=web$`, 'm'));
    t.match((await k(['get', 'deploy', 'web', '-o', 'yaml'])).out, /^kind: Deployment$/m);
    const list = JSON.parse((await k(['get', 'ns', '-o', 'json'])).out);
    t.ok(list.items.some((n: { metadata: { name: string } }) => n.metadata.name === 'kube-system'));
    const svc = (await k(['get', 'svc', 'kubernetes'])).out;
    t.match(svc, /^kubernetes\s+ClusterIP\s+10\.96\.0\.1\s+<none>\s+443\/TCP\s+/m);
  });

  await t.test('run, describe and validation errors', async (t) => {
    t.match((await k(['run', 'p1', '--image=busybox:1.36', '--labels=app=p'])).out, 'pod/p1 created');
    const pods = (await k(['get', 'pods', '-o', 'wide'])).out;
    t.match(pods, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES$/m);
    t.match(pods, /^p1\s+0\/1\s+Pending\s+0\s+/m);
    const desc = (await k(['describe', 'pod', 'p1'])).out;
    t.match(desc, /QoS Class:\s+BestEffort/);
    t.match(desc, /Tolerations:\s+node.kubernetes.io\/not-ready:NoExecute op=Exists for 300s/);
    const bad = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"Bad_Name"},"spec":{"containers":[{"name":"a","image":"x"},{"name":"a","image":"y","resources":{"limits":{"cpu":"lots"}}}]}}`;
    const r = await k(['create', '-f', '-'], { input: bad, allowFail: true });
    t.not(r.code, 0);
    t.match(r.err, /The Pod "Bad_Name" is invalid/);
    t.match(r.err, /metadata.name: Invalid value: "Bad_Name"/);
    t.match(r.err, /spec.containers\[1\].name: Duplicate value: "a"/);
    t.match(r.err, /spec.containers\[1\].resources.limits\[cpu\]: Invalid value: "lots"/);
    const strict = await k(['create', '-f', '-'], { input: '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"bogus":1}', allowFail: true });
    t.match(strict.err, /unknown field "bogus"/, 'kubectl sends fieldValidation=Strict');
  });

  await t.test('label, annotate, patch (strategic, merge, json), scale', async (t) => {
    await k(['label', 'deploy', 'web', 'tier=front']);
    await k(['annotate', 'deploy', 'web', 'note=hello']);
    await k(['patch', 'deploy', 'web', '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"extra","image":"busybox:1.36"}]}}}}']);
    await k(['patch', 'deploy', 'web', '--type=merge', '-p', '{"metadata":{"labels":{"merged":"yes"}}}']);
    await k(['patch', 'deploy', 'web', '--type=json', '-p', '[{"op":"replace","path":"/spec/revisionHistoryLimit","value":3}]']);
    t.match((await k(['scale', 'deploy', 'web', '--replicas=5'])).out, 'deployment.apps/web scaled');
    const d = JSON.parse((await k(['get', 'deploy', 'web', '-o', 'json'])).out);
    t.equal(d.metadata.labels.tier, 'front');
    t.equal(d.metadata.labels.merged, 'yes');
    t.equal(d.metadata.annotations.note, 'hello');
    t.same(d.spec.template.spec.containers.map((x: { name: string }) => x.name).sort(), ['extra', 'web'], 'strategic merge keeps web and adds extra');
    t.equal(d.spec.revisionHistoryLimit, 3);
    t.equal(d.spec.replicas, 5);
    const labelled = (await k(['get', 'deploy', '-l', 'tier=front', '-o', 'name'])).out.trim();
    t.equal(labelled, 'deployment.apps/web');
    const none = (await k(['get', 'deploy', '-l', 'tier=back', '-o', 'name'])).out.trim();
    t.equal(none, '');
  });

  await t.test('server-side apply with conflicts and force', async (t) => {
    const cm = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ssa"},"data":{"k":"one"}}';
    await k(['apply', '--server-side', '--field-manager=alice', '-f', '-'], { input: cm });
    const clash = await k(['apply', '--server-side', '--field-manager=bob', '-f', '-'], { input: cm.replace('one', 'two'), allowFail: true });
    t.not(clash.code, 0);
    t.match(clash.err, /conflict/i);
    await k(['apply', '--server-side', '--field-manager=bob', '--force-conflicts', '-f', '-'], { input: cm.replace('one', 'two') });
    t.equal((await k(['get', 'cm', 'ssa', '-o', 'jsonpath={.data.k}'])).out, 'two');
  });

  await t.test('typed create commands send protobuf', async (t) => {
    t.match((await k(['create', 'namespace', 'team-a'])).out, 'namespace/team-a created');
    t.match((await k(['create', 'configmap', 'cfg', '-n', 'team-a', '--from-literal=a=b'])).out, 'configmap/cfg created');
    t.equal((await k(['get', 'cm', 'cfg', '-n', 'team-a', '-o', 'jsonpath={.data.a}'])).out, 'b');
    t.match((await k(['create', 'deployment', 'api', '--image=nginx:1.25', '--replicas=2'])).out, 'deployment.apps/api created');
    t.match((await k(['expose', 'deployment', 'api', '--port=80', '--type=NodePort'])).out, 'service/api exposed');
    const svc = JSON.parse((await k(['get', 'svc', 'api', '-o', 'json'])).out);
    t.match(svc.spec.clusterIP, /^10\.(9[6-9]|1[01]\d)\./);
    t.ok(svc.spec.ports[0].nodePort >= 30000 && svc.spec.ports[0].nodePort <= 32767);
  });

  await t.test('get -w streams changes until stopped', async (t) => {
    const args = ['--kubeconfig', c.kubeconfigPath, '--cache-dir', join(c.dir, 'cache'), 'get', 'pods', '-w', '--output-watch-events'];
    const child = spawn('kubectl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
    let out = '';
    const seen = (re: RegExp) => new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`watch output never matched ${re}: ${out}`)), 30_000);
      const check = () => { if (re.test(out)) { clearTimeout(timer); resolve(); } };
      child.stdout.on('data', (d: Buffer) => { out += d.toString(); check(); });
      check();
    });
    await seen(/ADDED\s+p1\s/);
    await k(['label', 'pod', 'p1', 'watched=yes']);
    await seen(/MODIFIED\s+p1\s/);
    await k(['delete', 'pod', 'p1']);
    await seen(/DELETED\s+p1\s/);
    child.kill('SIGTERM');
    t.pass('ADDED, MODIFIED and DELETED arrived');
  });

  await t.test('delete with each cascade policy', async (t) => {
    for (const [name, cascade] of [['bg', 'background'], ['orph', 'orphan']] as const) {
      await k(['create', 'configmap', name]);
      t.match((await k(['delete', 'configmap', name, `--cascade=${cascade}`])).out, `configmap "${name}" deleted`);
      const gone = await k(['get', 'configmap', name], { allowFail: true });
      t.match(gone.err, /NotFound/);
    }
    // The controller-manager's garbage collector finishes foreground deletions: give the owner a blocking
    // dependent that holds a finalizer of its own, so the owner visibly waits on it.
    await k(['create', 'configmap', 'fg']);
    const uid = (await k(['get', 'configmap', 'fg', '-o', 'jsonpath={.metadata.uid}'])).out;
    await k(['create', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: {
      name: 'fg-dep', finalizers: ['example.com/hold'], ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'fg', uid, blockOwnerDeletion: true }] } }) });
    await k(['delete', 'configmap', 'fg', '--cascade=foreground', '--wait=false']);
    const fg = JSON.parse((await k(['get', 'configmap', 'fg', '-o', 'json'])).out);
    t.same(fg.metadata.finalizers, ['foregroundDeletion'], 'foreground deletion waits on its finalizer');
    t.ok(fg.metadata.deletionTimestamp);
    await until('the garbage collector to delete the dependent', async () => JSON.parse((await k(['get', 'configmap', 'fg-dep', '-o', 'json'])).out).metadata.deletionTimestamp);
    t.same(JSON.parse((await k(['get', 'configmap', 'fg', '-o', 'json'])).out).metadata.finalizers, ['foregroundDeletion'], 'still waiting on the dependent');
    await k(['patch', 'configmap', 'fg-dep', '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
    await until('the owner to go once its dependent is gone', async () => /NotFound/.test((await k(['get', 'configmap', 'fg'], { allowFail: true })).err));
    t.pass('removing the dependent\'s finalizer lets the garbage collector finish the owner');
    t.match((await k(['delete', 'deploy', 'web'])).out, 'deployment.apps "web" deleted');
    const dry = await k(['delete', 'deploy', 'api', '--dry-run=server']);
    t.match(dry.out, /deleted \(server dry run\)/);
    t.match((await k(['get', 'deploy', 'api', '-o', 'name'])).out, 'deployment.apps/api', 'dry run kept it');
  });

  await t.test('rollout history and undo, driven by the deployment controller', async (t) => {
    const rsOf = async (revision: string) => {
      const list = JSON.parse((await k(['get', 'rs', '-l', 'app=roll', '-o', 'json'])).out) as { items: { metadata: { annotations?: Record<string, string> }; spec: { template: { spec: { containers: { image: string }[] } } } }[] };
      return list.items.find((rs) => rs.metadata.annotations?.['deployment.kubernetes.io/revision'] === revision);
    };
    const image = async () => (await k(['get', 'deploy', 'roll', '-o', 'jsonpath={.spec.template.spec.containers[0].image}'])).out;
    t.match((await k(['create', 'deployment', 'roll', '--image=nginx:1.25'])).out, 'deployment.apps/roll created');
    await k(['annotate', 'deployment', 'roll', 'kubernetes.io/change-cause=first: nginx 1.25']);
    await until('revision 1 with its change cause', async () => (await rsOf('1'))?.metadata.annotations?.['kubernetes.io/change-cause'] === 'first: nginx 1.25');
    t.match((await k(['set', 'image', 'deployment/roll', 'nginx=nginx:1.26'])).out, 'deployment.apps/roll image updated');
    await k(['annotate', '--overwrite', 'deployment', 'roll', 'kubernetes.io/change-cause=second: nginx 1.26']);
    await until('revision 2 with its change cause', async () => (await rsOf('2'))?.metadata.annotations?.['kubernetes.io/change-cause'] === 'second: nginx 1.26');

    const history = (await k(['rollout', 'history', 'deployment/roll'])).out;
    t.match(history, /^deployment\.apps\/roll\s*$/m);
    t.match(history, /^REVISION\s+CHANGE-CAUSE$/m);
    t.match(history, /^1\s+first: nginx 1\.25$/m);
    t.match(history, /^2\s+second: nginx 1\.26$/m);
    const one = (await k(['rollout', 'history', 'deployment/roll', '--revision=1'])).out;
    t.match(one, /deployment\.apps\/roll with revision #1/);
    t.match(one, /Image:\s+nginx:1\.25/);
    t.notMatch(one, /nginx:1\.26/);

    t.match((await k(['rollout', 'undo', 'deployment/roll'])).out, 'deployment.apps/roll rolled back');
    t.equal(await image(), 'nginx:1.25', 'undo brings the old image back');
    const three = await until('revision 3 is the old template', async () => {
      const rs = await rsOf('3');
      return rs?.spec.template.spec.containers[0]!.image === 'nginx:1.25' && rs;
    });
    t.equal(three.metadata.annotations!['deployment.kubernetes.io/revision-history'], '1', 'revision 1 became 3');
    await until('the deployment at revision 3', async () => (await k(['get', 'deploy', 'roll', '-o', 'jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}'])).out === '3');
    const after = (await k(['rollout', 'history', 'deployment/roll'])).out;
    t.match(after, /^2\s+second: nginx 1\.26$/m);
    t.match(after, /^3\s+first: nginx 1\.25$/m);
    t.notMatch(after, /^1\s/m, 'revision 1 is now 3');

    t.match((await k(['rollout', 'undo', 'deployment/roll', '--to-revision=2'])).out, 'deployment.apps/roll rolled back');
    t.equal(await image(), 'nginx:1.26');
    await until('revision 4 is the nginx:1.26 template', async () => (await rsOf('4'))?.spec.template.spec.containers[0]!.image === 'nginx:1.26');
    const missing = await k(['rollout', 'undo', 'deployment/roll', '--to-revision=9'], { allowFail: true });
    t.not(missing.code, 0);
    t.match(missing.err, /unable to find specified revision 9 in history/);

    // restart is a template annotation: a new revision; pause makes undo refuse, resume allows it again.
    t.match((await k(['rollout', 'restart', 'deployment/roll'])).out, 'deployment.apps/roll restarted');
    await until('revision 5 from the restart', async () => (await rsOf('5')) !== undefined);
    t.match((await k(['rollout', 'pause', 'deployment/roll'])).out, 'deployment.apps/roll paused');
    await until('Progressing DeploymentPaused', async () => /DeploymentPaused/.test((await k(['get', 'deploy', 'roll', '-o', 'jsonpath={.status.conditions[?(@.type=="Progressing")].reason}'])).out));
    const paused = await k(['rollout', 'undo', 'deployment/roll'], { allowFail: true });
    t.not(paused.code, 0);
    t.match(paused.err, /you cannot rollback a paused deployment/);
    t.match((await k(['rollout', 'resume', 'deployment/roll'])).out, 'deployment.apps/roll resumed');
    await until('Progressing after resume', async () => !/DeploymentPaused/.test((await k(['get', 'deploy', 'roll', '-o', 'jsonpath={.status.conditions[?(@.type=="Progressing")].reason}'])).out));
  });
}

for (const kind of ['etcd-3.4', 'kts-etcd'] as const) {
  t.test(`kubectl against the apiserver over ${kind}`, (t) => suite(t, kind));
}
