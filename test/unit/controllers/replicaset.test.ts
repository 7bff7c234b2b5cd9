// Pure decisions of the ReplicaSet controller: deletion ranking, status, expectations, slow start, pod template.
import t from 'tap';
import type { V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import { Expectations } from '../../../control/controllers/replicaset/expectations.ts';
import { podFromTemplate, podNamePrefix } from '../../../control/controllers/replicaset/pod-template.ts';
import { compareForDeletion, podsToDelete, POD_DELETION_COST } from '../../../control/controllers/replicaset/ranking.ts';
import { slowStartBatch } from '../../../control/controllers/replicaset/slowstart.ts';
import { calculateReplicaSetStatus } from '../../../control/controllers/replicaset/status.ts';
import { isPodAvailable } from '../../../control/controllers/replicaset/pods.ts';
import { selectControllers } from '../../../control/controllers/index.ts';

const NOW = Date.parse('2026-01-01T12:00:00Z');
const ago = (s: number) => new Date(NOW - s * 1000).toISOString() as unknown as Date;

function pod(name: string, o: { node?: string; phase?: string; ready?: boolean; readyFor?: number; age?: number; restarts?: number; cost?: string; uid?: string } = {}): V1Pod {
  return {
    metadata: {
      name, namespace: 'ns', uid: o.uid ?? name, creationTimestamp: ago(o.age ?? 100), labels: { app: 'a' },
      ...(o.cost !== undefined ? { annotations: { [POD_DELETION_COST]: o.cost } } : {}),
    },
    spec: { containers: [{ name: 'c', image: 'i' }], ...(o.node ? { nodeName: o.node } : {}) },
    status: {
      phase: o.phase ?? 'Running',
      conditions: o.ready ? [{ type: 'Ready', status: 'True', lastTransitionTime: ago(o.readyFor ?? 50) }] : [],
      containerStatuses: [{ name: 'c', image: 'i', imageID: '', ready: Boolean(o.ready), restartCount: o.restarts ?? 0 }],
    },
  };
}

const names = (ps: V1Pod[]) => ps.map((p) => p.metadata!.name);

t.test('deletion ranking follows upstream order', async (t) => {
  const order = (a: V1Pod, b: V1Pod) => compareForDeletion({ pod: a, rank: 0 }, { pod: b, rank: 0 }, NOW);
  t.ok(order(pod('unsched', { phase: 'Pending' }), pod('sched', { node: 'n1', phase: 'Pending' })) < 0, 'unscheduled before scheduled');
  t.ok(order(pod('p', { node: 'n', phase: 'Pending' }), pod('u', { node: 'n', phase: 'Unknown' })) < 0, 'Pending before Unknown');
  t.ok(order(pod('u', { node: 'n', phase: 'Unknown' }), pod('r', { node: 'n', phase: 'Running' })) < 0, 'Unknown before Running');
  t.ok(order(pod('nr', { node: 'n' }), pod('r', { node: 'n', ready: true })) < 0, 'not ready before ready');
  t.ok(order(pod('cheap', { node: 'n', ready: true, cost: '-5' }), pod('dear', { node: 'n', ready: true, cost: '10' })) < 0, 'lower deletion cost first');
  t.ok(order(pod('bad', { node: 'n', cost: 'lots' }), pod('pos', { node: 'n', cost: '1' })) < 0, 'an unparsable cost counts as 0');
  t.ok(compareForDeletion({ pod: pod('dbl', { node: 'n', ready: true }), rank: 3 }, { pod: pod('alone', { node: 'm', ready: true }), rank: 1 }, NOW) < 0, 'doubled-up first');
  t.ok(order(pod('fresh', { node: 'n', ready: true, readyFor: 10 }), pod('old', { node: 'n', ready: true, readyFor: 10_000 })) < 0, 'ready for less time first');
  t.ok(order(pod('crashy', { node: 'n', restarts: 7 }), pod('calm', { node: 'n', restarts: 0 })) < 0, 'more restarts first');
  t.ok(order(pod('young', { node: 'n', age: 10 }), pod('aged', { node: 'n', age: 100_000 })) < 0, 'newer first');
  // Same power-of-two bucket: ordered by UID, whatever the exact age.
  t.ok(order(pod('x', { node: 'n', age: 1000, uid: 'b' }), pod('y', { node: 'n', age: 1001, uid: 'a' })) > 0, 'same log2 bucket: by uid');
});

t.test('podsToDelete ranks by related pods on the same node', async (t) => {
  const mine = [pod('a', { node: 'n1', ready: true }), pod('b', { node: 'n2', ready: true }), pod('c', { node: 'n2', ready: true })];
  const related = [...mine, pod('s1', { node: 'n2', ready: true }), pod('s2', { node: 'n1', phase: 'Succeeded' })];
  t.same(names(podsToDelete(mine, related, 2, NOW)).sort(), ['b', 'c'], 'the crowded node loses pods');
  t.same(names(podsToDelete(mine, related, 5, NOW)), ['a', 'b', 'c'], 'asking for more than there is returns all');
  const mixed = [pod('run', { node: 'n', ready: true }), pod('pending', { phase: 'Pending' }), pod('notready', { node: 'n' })];
  t.same(names(podsToDelete(mixed, mixed, 2, NOW)), ['pending', 'notready']);
});

t.test('status counts labelled, ready and available pods', async (t) => {
  const rs: V1ReplicaSet = {
    metadata: { name: 'rs', generation: 2 },
    spec: { replicas: 3, minReadySeconds: 30, selector: { matchLabels: { app: 'a' } }, template: { metadata: { labels: { app: 'a', tier: 'x' } } } },
    status: { replicas: 0 },
  };
  const full = pod('full', { ready: true, readyFor: 60 });
  full.metadata!.labels = { app: 'a', tier: 'x' };
  const recent = pod('recent', { ready: true, readyFor: 5 });
  const s = calculateReplicaSetStatus(rs, [full, recent, pod('nr')], undefined, NOW);
  t.match(s, { replicas: 3, fullyLabeledReplicas: 1, readyReplicas: 2, availableReplicas: 1 });
  t.notOk(s.conditions, 'no failure condition');
  const failed = calculateReplicaSetStatus(rs, [full], new Error('quota exceeded'), NOW);
  t.match(failed.conditions, [{ type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: 'quota exceeded' }]);
  const cleared = calculateReplicaSetStatus({ ...rs, status: failed }, [full], undefined, NOW);
  t.notOk(cleared.conditions, 'the failure condition goes once manage succeeds');
  t.ok(isPodAvailable(full, 30, NOW));
  t.notOk(isPodAvailable(recent, 30, NOW));
  t.ok(isPodAvailable(recent, 0, NOW), 'without minReadySeconds ready is available');
});

t.test('expectations gate a sync until own writes are observed', async (t) => {
  let now = 0;
  const e = new Expectations(() => now);
  t.ok(e.satisfied('ns/rs'), 'no record: satisfied');
  e.expectCreations('ns/rs', 2);
  t.notOk(e.satisfied('ns/rs'));
  e.creationObserved('ns/rs');
  t.notOk(e.satisfied('ns/rs'));
  e.creationObserved('ns/rs');
  t.ok(e.satisfied('ns/rs'));
  e.expectDeletions('ns/rs', ['ns/p1', 'ns/p2']);
  e.deletionObserved('ns/rs', 'ns/p1');
  e.deletionObserved('ns/rs', 'ns/p1');
  t.notOk(e.satisfied('ns/rs'), 'the same pod observed twice counts once');
  e.deletionObserved('ns/rs', 'ns/other');
  t.notOk(e.satisfied('ns/rs'), 'an unexpected pod does not count');
  now += 6 * 60_000;
  t.ok(e.satisfied('ns/rs'), 'expired after 5 minutes');
});

t.test('slow start: batches of 1, 2, 4 ... and stops after a failing batch', async (t) => {
  const sizes: number[] = [];
  let inFlight = 0;
  let calls = 0;
  const ok = await slowStartBatch(10, 1, async () => {
    calls++;
    inFlight++;
    sizes.push(inFlight);
    await new Promise((r) => setImmediate(r));
    inFlight--;
  });
  t.equal(ok.successes, 10);
  t.equal(calls, 10);
  t.equal(Math.max(...sizes), 4, 'batches 1, 2, 4, 3');
  let n = 0;
  const bad = await slowStartBatch(10, 1, async () => {
    n++;
    if (n === 3) throw new Error('refused');
  });
  t.equal(n, 3, 'batch 1 then batch 2 (which failed), nothing after');
  t.equal(bad.successes, 2);
  t.match(String(bad.error), /refused/);
});

t.test('pods from a template', async (t) => {
  const ref = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-abc', uid: 'u1', controller: true, blockOwnerDeletion: true };
  const p = podFromTemplate({ metadata: { labels: { app: 'web' }, annotations: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i' }] } }, 'ns', 'web-abc', ref);
  t.match(p.metadata, { generateName: 'web-abc-', namespace: 'ns', labels: { app: 'web' }, annotations: { a: 'b' }, ownerReferences: [ref] });
  t.throws(() => podFromTemplate({ metadata: {}, spec: { containers: [] } }, 'ns', 'x', ref), /no labels/);
  t.equal(podNamePrefix('web'), 'web-');
  t.equal(podNamePrefix('x'.repeat(252)), 'x'.repeat(252), 'a prefix too long to be valid drops the dash');
});

t.test('--controllers selection', async (t) => {
  const known = { a: () => ({ name: 'a', run: async () => {} }), b: () => ({ name: 'b', run: async () => {} }) };
  t.same(selectControllers(['*'], known), ['a', 'b']);
  t.same(selectControllers(['*,-a'], known), ['b']);
  t.same(selectControllers(['b'], known), ['b']);
  t.same(selectControllers(['-a', '-b', '*'], known), []);
  t.throws(() => selectControllers(['*', 'nope'], known), /unknown controller\(s\) "nope"/);
  t.same(selectControllers(['*']), ['deployment', 'garbage-collector', 'replicaset'], 'the real registry');
  t.same(selectControllers(['*', '-garbagecollector', '-replicaset-controller']), ['deployment'], 'upstream aliases');
});

t.test('claiming: adopt matching orphans once the owner is rechecked, release what stops matching', async (t) => {
  const { claimObjects } = await import('../../../control/controllers/replicaset/claim.ts');
  const { labelSelectorFromObject } = await import('../../../api/selectors.ts');
  const owner = { metadata: { name: 'rs', namespace: 'ns', uid: 'me' } };
  const mk = (name: string, labels: Record<string, string>, ownerUid?: string, extra: Record<string, unknown> = {}): V1Pod => ({
    metadata: { name, namespace: 'ns', labels, ...(ownerUid ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'x', uid: ownerUid, controller: true }] } : {}), ...extra },
  });
  const objs = [
    mk('mine', { app: 'a' }, 'me'), mk('strayed', { app: 'b' }, 'me'), mk('orphan', { app: 'a' }), mk('others', { app: 'a' }, 'them'),
    mk('nomatch', { app: 'b' }), mk('dying', { app: 'a' }, undefined, { deletionTimestamp: new Date() }), mk('elsewhere', { app: 'a' }, undefined, { namespace: 'other' }),
  ];
  const adopted: string[] = [], released: string[] = [];
  let rechecks = 0;
  const res = await claimObjects(objs, {
    owner, selector: labelSelectorFromObject({ matchLabels: { app: 'a' } }),
    canAdopt: async () => { rechecks++; },
    adopt: async (o) => { adopted.push(o.metadata!.name!); },
    release: async (o) => { released.push(o.metadata!.name!); },
  });
  t.same(names(res.claimed), ['mine', 'orphan']);
  t.same(adopted, ['orphan']);
  t.same(released, ['strayed']);
  t.equal(rechecks, 1);
  t.same(res.errors, []);

  const refused = await claimObjects([mk('o1', { app: 'a' }), mk('o2', { app: 'a' })], {
    owner, selector: labelSelectorFromObject({ matchLabels: { app: 'a' } }),
    canAdopt: async () => { throw new Error('original ns/rs is gone'); },
    adopt: async () => { t.fail('must not adopt'); }, release: async () => {},
  });
  t.same(refused.claimed, [], 'no adoption when the owner recheck fails');
  t.equal(refused.errors.length, 2);
  const deleting = await claimObjects([mk('o', { app: 'a' }), mk('m', { app: 'b' }, 'me')], {
    owner: { metadata: { ...owner.metadata, deletionTimestamp: new Date() } }, selector: labelSelectorFromObject({ matchLabels: { app: 'a' } }),
    canAdopt: async () => {}, adopt: async () => { t.fail('a deleting owner adopts nothing'); }, release: async () => { t.fail('nor releases'); },
  });
  t.same(deleting.claimed, []);
});
