import t from 'tap';
import type { V1Lease } from '@kubernetes/client-node';
import { RestClient } from '../../../client/rest.ts';
import { LeaderElector, microTime } from '../../../client/leaderelection.ts';
import type { LeaderElectionConfig } from '../../../client/leaderelection.ts';
import { FakeApiServer } from './fixtures/fake-apiserver.ts';
import { until } from '../../support/until.ts';

const LEASES = 'coordination.k8s.io/v1/leases';
const leaseRef = { group: 'coordination.k8s.io', version: 'v1', resource: 'leases', namespace: 'kube-system', name: 'sched' };


interface Candidate { elector: LeaderElector; abort: AbortController; done: Promise<void>; log: string[] }

function candidate(client: RestClient, identity: string, extra: Partial<LeaderElectionConfig> = {}): Candidate {
  const log: string[] = [];
  const abort = new AbortController();
  const elector = new LeaderElector({
    client, namespace: 'kube-system', name: 'sched', identity,
    leaseDurationMs: 1500, renewDeadlineMs: 1000, retryPeriodMs: 50, releaseOnCancel: true,
    onStartedLeading: (signal) => {
      log.push('started');
      signal.addEventListener('abort', () => log.push('leadership signal aborted'));
    },
    onStoppedLeading: () => log.push('stopped'),
    onNewLeader: (id) => log.push(`leader ${id}`),
    onError: (err) => log.push(`error ${(err as Error).message}`),
    ...extra,
  });
  return { elector, abort, log, done: elector.run(abort.signal) };
}

async function setup(t: { teardown(fn: () => unknown): void }) {
  const api = new FakeApiServer();
  const server = await api.start();
  const client = new RestClient({ server, qps: 0 });
  t.teardown(async () => {
    client.close();
    await api.close();
  });
  return { api, client };
}

t.test('microTime has six fractional digits', async (t) => {
  t.equal(microTime(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678))), '2026-01-02T03:04:05.678000Z');
});

t.test('config is validated', async (t) => {
  const { client } = await setup(t);
  const base = { client, namespace: 'n', name: 'l', identity: 'me', onStartedLeading: () => {} };
  t.throws(() => new LeaderElector({ ...base, identity: '' }), /identity/);
  t.throws(() => new LeaderElector({ ...base, leaseDurationMs: 1000, renewDeadlineMs: 1000 }), /leaseDuration must be greater/);
  t.throws(() => new LeaderElector({ ...base, renewDeadlineMs: 1000, retryPeriodMs: 900 }), /renewDeadline must be greater/);
});

t.test('one of two candidates leads; on release the other takes over', async (t) => {
  const { api, client } = await setup(t);
  const a = candidate(client, 'a');
  await until('a leads', () => a.elector.isLeader(), 10_000);
  const b = candidate(client, 'b');
  t.teardown(async () => {
    a.abort.abort();
    b.abort.abort();
    await Promise.all([a.done, b.done]);
  });
  await until('b sees a', () => b.log.includes('leader a'), 10_000);
  const lease = await client.get<V1Lease>(leaseRef);
  t.equal(lease.spec?.holderIdentity, 'a');
  t.equal(lease.spec?.leaseDurationSeconds, 2, 'duration rounded up to whole seconds');
  t.match(String(lease.spec?.renewTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  t.notOk(b.elector.isLeader());
  t.same(a.log.slice(0, 2), ['leader a', 'started']);

  // a keeps renewing: renewTime moves on while b waits.
  const renewed = String(lease.spec?.renewTime);
  await until('renewals', () => api.requests.filter((r) => r.method === 'PUT').length >= 3, 10_000);
  const later = await client.get<V1Lease>(leaseRef);
  t.not(String(later.spec?.renewTime), renewed);
  t.equal(later.spec?.holderIdentity, 'a');
  t.notOk(b.elector.isLeader(), 'b does not take a lease that is being renewed');

  a.abort.abort();
  await a.done;
  t.same(a.log.slice(-2), ['leadership signal aborted', 'stopped']);
  const released = await client.get<V1Lease>(leaseRef);
  t.equal(released.spec?.holderIdentity, '', 'released on cancel');

  await until('b takes over', () => b.elector.isLeader(), 10_000);
  t.ok(b.log.includes('started'));
  const taken = await client.get<V1Lease>(leaseRef);
  t.equal(taken.spec?.holderIdentity, 'b');
  t.equal(taken.spec?.leaseTransitions, 1, 'one transition from a to b');
});

t.test('an expired lease held by a dead candidate is taken over', async (t) => {
  const { api, client } = await setup(t);
  api.put(LEASES, {
    apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'sched', namespace: 'kube-system' },
    spec: { holderIdentity: 'ghost', leaseDurationSeconds: 1, renewTime: microTime(), acquireTime: microTime(), leaseTransitions: 4 },
  });
  const c = candidate(client, 'c', { leaseDurationMs: 1100, renewDeadlineMs: 1000 });
  t.teardown(async () => {
    c.abort.abort();
    await c.done;
  });
  await until('c sees the ghost', () => c.log.includes('leader ghost'), 10_000);
  t.notOk(c.elector.isLeader(), 'waits while the ghost lease may still be valid');
  await until('c takes over after the lease duration', () => c.elector.isLeader(), 10_000);
  const lease = await client.get<V1Lease>(leaseRef);
  t.equal(lease.spec?.holderIdentity, 'c');
  t.equal(lease.spec?.leaseTransitions, 5);
});

t.test('leadership is lost when renewals fail past the deadline', async (t) => {
  const { api, client } = await setup(t);
  const a = candidate(client, 'a', { releaseOnCancel: false });
  t.teardown(async () => {
    a.abort.abort();
    await a.done;
  });
  await until('a leads', () => a.elector.isLeader(), 10_000);
  // Someone else grabs the lease behind a's back; a's next update conflicts and its reads show another holder.
  const cur = await client.get<V1Lease>(leaseRef);
  await client.update(leaseRef, { ...cur, spec: { ...cur.spec, holderIdentity: 'usurper', renewTime: microTime() as unknown as Date } });
  const keepAlive = setInterval(async () => {
    const l = await client.get<V1Lease>(leaseRef).catch(() => undefined);
    if (l) await client.update(leaseRef, { ...l, spec: { ...l.spec, renewTime: microTime() as unknown as Date } }).catch(() => {});
  }, 100);
  t.teardown(() => clearInterval(keepAlive));
  await a.done;
  t.notOk(a.elector.isLeader());
  t.same(a.log.slice(-2), ['leadership signal aborted', 'stopped']);
  t.equal(a.elector.getLeader(), 'usurper');
  t.equal((await client.get<V1Lease>(leaseRef)).spec?.holderIdentity, 'usurper');
  void api;
});
