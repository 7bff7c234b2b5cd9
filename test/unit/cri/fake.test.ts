import t from 'tap';
import { FakeRuntime } from '../../../agent/cri/fake.ts';
import { CriError, isNotFound } from '../../../agent/cri/types.ts';
import type { PodSandboxConfig } from '../../../agent/cri/types.ts';
import { normalizeEndpoint } from '../../../agent/cri/client.ts';

const sandbox: PodSandboxConfig = { metadata: { name: 'p', uid: 'u', namespace: 'default', attempt: 0 }, labels: { pod: 'p' } };

t.test('sandbox and container lifecycle', async (t) => {
  const rt = new FakeRuntime({ images: ['img:1'] });
  const sb = await rt.runPodSandbox(sandbox);
  t.equal((await rt.podSandboxStatus(sb)).state, 'SANDBOX_READY');
  t.match((await rt.podSandboxStatus(sb)).network?.ip, /^10\.88\.0\.\d+$/);
  const c = await rt.createContainer(sb, { metadata: { name: 'app', attempt: 0 }, image: { image: 'img:1' } }, sandbox);
  t.equal((await rt.containerStatus(c)).state, 'CONTAINER_CREATED');
  await rt.startContainer(c);
  t.equal((await rt.containerStatus(c)).state, 'CONTAINER_RUNNING');
  rt.exitContainer(c, 2);
  const st = await rt.containerStatus(c);
  t.equal(st.state, 'CONTAINER_EXITED');
  t.equal(st.exit_code, 2);
  t.same((await rt.listPodSandbox({ label_selector: { pod: 'p' } })).map((s) => s.id), [sb]);
  t.same(await rt.listPodSandbox({ label_selector: { pod: 'other' } }), []);
  await rt.stopPodSandbox(sb);
  await rt.removePodSandbox(sb);
  t.same(await rt.listContainers(), []);
  t.ok(await rt.podSandboxStatus(sb).then(() => false, (e: unknown) => isNotFound(e)), 'NOT_FOUND after removal');
});

t.test('missing images, start failures and an unavailable runtime', async (t) => {
  const rt = new FakeRuntime({ images: ['img:1'], pullable: ['remote:1'], onStart: (cfg) => {
    if (cfg.command?.[0] === '/nope') throw new Error('exec: "/nope": stat /nope: no such file or directory');
    return undefined;
  } });
  t.equal(await rt.imageStatus('remote:1'), null);
  t.match(await rt.pullImage('remote:1'), /^sha256:/);
  await t.rejects(rt.pullImage('missing:1'), /not found/);
  const sb = await rt.runPodSandbox(sandbox);
  await t.rejects(rt.createContainer(sb, { metadata: { name: 'x', attempt: 0 }, image: { image: 'missing:1' } }, sandbox));
  const c = await rt.createContainer(sb, { metadata: { name: 'x', attempt: 0 }, image: { image: 'img:1' }, command: ['/nope'] }, sandbox);
  await t.rejects(rt.startContainer(c), /no such file/);
  t.equal((await rt.containerStatus(c)).reason, 'StartError');
  rt.down = true;
  t.ok(await rt.version().then(() => false, (e: unknown) => e instanceof CriError && e.code === 14), 'UNAVAILABLE when down');
});

t.test('endpoint normalisation', async (t) => {
  t.equal(normalizeEndpoint('unix:///run/x.sock'), 'unix:///run/x.sock');
  t.equal(normalizeEndpoint('/run/x.sock'), 'unix:///run/x.sock');
  t.throws(() => normalizeEndpoint('unix://run/x.sock'), /absolute/);
});
