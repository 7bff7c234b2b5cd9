// Probe workers with a hand-driven clock and scripted results; checkers against loopback servers.
import t from 'tap';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { V1Container } from '@kubernetes/client-node';
import { ProbeWorker, type Clock } from '../../../agent/probes/worker.ts';
import { ProbeManager } from '../../../agent/probes/manager.ts';
import { httpGetCheck, tcpCheck, execCheck, resolvePort, runProbe } from '../../../agent/probes/checkers.ts';
import { FakeRuntime } from '../../../agent/cri/fake.ts';

/** A clock whose timers fire only when the test advances time. */
function manualClock(start = 0) {
  let now = start;
  const timers: { at: number; fn: () => void; id: number }[] = [];
  let seq = 0;
  const clock: Clock = {
    now: () => now,
    setTimeout: (fn, ms) => { const id = ++seq; timers.push({ at: now + ms, fn, id }); return id; },
    clearTimeout: (h) => { const i = timers.findIndex((x) => x.id === h); if (i >= 0) timers.splice(i, 1); },
  };
  const advance = async (ms: number) => {
    const until = now + ms;
    for (;;) {
      timers.sort((a, b) => a.at - b.at);
      const next = timers[0];
      if (!next || next.at > until) break;
      timers.shift();
      now = next.at;
      next.fn();
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    }
    now = until;
  };
  return { clock, advance, pending: () => timers.length };
}

t.test('readiness: initial delay, success threshold, failure threshold', async (t) => {
  const { clock, advance } = manualClock(1000);
  const results: boolean[] = [];
  let ok = true;
  let checks = 0;
  const w = new ProbeWorker({
    kind: 'readiness', clock, startedAtMs: 1000,
    probe: { initialDelaySeconds: 5, periodSeconds: 2, successThreshold: 2, failureThreshold: 3 },
    check: async () => { checks++; return { ok, message: ok ? '' : 'nope' }; },
    onChange: (r) => results.push(r),
  });
  t.equal(w.result, false, 'readiness starts false');
  w.start();
  await advance(4999);
  t.equal(checks, 0, 'nothing before initialDelaySeconds');
  await advance(1);
  t.equal(checks, 1);
  t.equal(w.result, false, 'one success is below successThreshold 2');
  await advance(2000);
  t.equal(w.result, true);
  ok = false;
  await advance(4000);
  t.equal(w.result, true, 'two failures are below failureThreshold 3');
  await advance(2000);
  t.equal(w.result, false);
  t.same(results, [true, false]);
  w.stop();
});

t.test('liveness starts healthy; startup gates it', async (t) => {
  const { clock, advance } = manualClock(0);
  let startupOk = false;
  let livenessChecks = 0;
  const startup = new ProbeWorker({ kind: 'startup', clock, startedAtMs: 0, probe: { periodSeconds: 1, failureThreshold: 30 },
    check: async () => ({ ok: startupOk, message: '' }), onChange: () => {} });
  const liveness = new ProbeWorker({ kind: 'liveness', clock, startedAtMs: 0, probe: { periodSeconds: 1 },
    gate: () => startup.result, check: async () => { livenessChecks++; return { ok: true, message: '' }; }, onChange: () => {} });
  t.equal(liveness.result, true);
  startup.start();
  liveness.start();
  await advance(3000);
  t.equal(livenessChecks, 0, 'liveness does not run before startup succeeds');
  startupOk = true;
  await advance(2000);
  t.equal(startup.result, true);
  t.ok(livenessChecks >= 1, 'liveness runs once started');
  startup.stop();
  liveness.stop();
});

t.test('manager: liveness failure asks for a restart; readiness result reflected', async (t) => {
  const { clock, advance } = manualClock(0);
  const unhealthy: string[] = [];
  let readyOk = false;
  const m = new ProbeManager({
    runtime: new FakeRuntime(), clock,
    onUnhealthy: (uid, name, id, kind, message) => unhealthy.push(`${uid}/${name}/${id}/${kind}/${message}`),
    onResult: () => {},
    check: async (kind) => (kind === 'liveness' ? { ok: false, message: 'boom' } : { ok: readyOk, message: '' }),
  });
  const pod = { metadata: { uid: 'u1' }, spec: { containers: [{ name: 'c', image: 'x',
    livenessProbe: { periodSeconds: 1, failureThreshold: 2, exec: { command: ['x'] } },
    readinessProbe: { periodSeconds: 1, exec: { command: ['x'] } } }] } };
  t.equal(m.isReady('u1', 'c', 'id1'), true, 'unknown pod: no spec, ready by default');
  m.syncPod(pod, [{ name: 'c', id: 'id1', startedAtMs: 0 }], '10.0.0.2');
  t.equal(m.isReady('u1', 'c', 'id1'), false, 'not ready until the readiness probe succeeds');
  t.equal(m.isReady('u1', 'c', 'other'), false, 'another instance with a readiness probe is not ready');
  await advance(1);
  await advance(1000);
  t.same(unhealthy, ['u1/c/id1/liveness/boom']);
  readyOk = true;
  await advance(1000);
  t.equal(m.isReady('u1', 'c', 'id1'), true);
  m.syncPod(pod, [], '10.0.0.2');
  t.equal(m.isReady('u1', 'c', 'id1'), false, 'workers go with the container');
  m.stop();
});

t.test('http, tcp and exec checkers', async (t) => {
  const server = http.createServer((req, res) => {
    res.statusCode = req.url === '/healthz' && req.headers['x-probe'] === 'yes' ? 200 : 503;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const container: V1Container = { name: 'c', ports: [{ name: 'web', containerPort: port }] };
  const target = { podIP: '127.0.0.1', container, containerId: 'id', runtime: new FakeRuntime() };
  t.same(await httpGetCheck({ httpGet: { path: '/healthz', port: 'web' as unknown as number, httpHeaders: [{ name: 'X-Probe', value: 'yes' }] } }, target, 1000),
    { ok: true, message: '' }, 'named port and headers');
  const bad = await httpGetCheck({ httpGet: { path: '/healthz', port } }, target, 1000);
  t.equal(bad.ok, false);
  t.match(bad.message, /statuscode: 503/);
  t.equal((await tcpCheck({ tcpSocket: { port } }, target, 1000)).ok, true);
  // A port that was just closed refuses connections.
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const closedPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const refused = await tcpCheck({ tcpSocket: { port: closedPort } }, target, 1000);
  t.equal(refused.ok, false);
  t.match(refused.message, /ECONNREFUSED/);
  t.throws(() => resolvePort('nope', container), /port "nope" not found/);

  const rt = new FakeRuntime({ images: ['i'], onExec: (_id, cmd) => ({ stdout: Buffer.from(cmd.join(' ')), stderr: Buffer.alloc(0), exit_code: cmd[0] === 'ok' ? 0 : 1 }) });
  const sb = await rt.runPodSandbox({ metadata: { name: 'p', uid: 'u', namespace: 'd', attempt: 0 } });
  const cid = await rt.createContainer(sb, { metadata: { name: 'c', attempt: 0 }, image: { image: 'i' } });
  await rt.startContainer(cid);
  const et = { podIP: '', container, containerId: cid, runtime: rt };
  t.equal((await execCheck({ exec: { command: ['ok'] } }, et, 1000)).ok, true);
  const ef = await execCheck({ exec: { command: ['fail', 'now'] } }, et, 1000);
  t.equal(ef.ok, false);
  t.equal(ef.message, 'fail now');
  t.match((await runProbe({}, et)).message, /no handler/);
});
