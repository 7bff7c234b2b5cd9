// Pure decisions of the Deployment controller: template hash, rolling-update arithmetic, proportional scaling,
// revision bookkeeping, history cleanup and the progress conditions.
import t from 'tap';
import type { V1Deployment, V1ReplicaSet } from '@kubernetes/client-node';
import { canonical, computeHash, equalIgnoreHash, fnv32a, safeEncode } from '../../../control/controllers/deployment/hash.ts';
import {
  REVISION, REVISION_HISTORY, maxRevision, replicaSetsToCleanUp, setNewReplicaSetAnnotations,
} from '../../../control/controllers/deployment/history.ts';
import {
  cleanupUnhealthyPlan, maxScaledDown, maxSurge, maxUnavailable, newRSNewReplicas, resolveFenceposts, scaleDownOldPlan, scaledValue,
} from '../../../control/controllers/deployment/rolling.ts';
import { proportionalScalePlan } from '../../../control/controllers/deployment/scale.ts';
import { findActiveOrLatest, findNewReplicaSet, isSaturated } from '../../../control/controllers/deployment/rslist.ts';
import { calculateStatus, recheckAfter, rolloutStatus, setCondition } from '../../../control/controllers/deployment/progress.ts';

const NOW = Date.parse('2026-01-01T12:00:00Z');
const at = (s: number) => new Date(NOW + s * 1000).toISOString().replace(/\.\d+Z$/, 'Z') as unknown as Date;
const template = (image: string) => ({ metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image }] } });

function deploy(replicas: number, o: { surge?: number | string; unavailable?: number | string; recreate?: boolean; status?: V1Deployment['status']; generation?: number; history?: number; deadline?: number } = {}): V1Deployment {
  return {
    metadata: { name: 'web', namespace: 'ns', uid: 'd1', generation: o.generation ?? 1, annotations: { 'kubernetes.io/change-cause': 'why', 'kubectl.kubernetes.io/last-applied-configuration': '{}' } },
    spec: {
      replicas, selector: { matchLabels: { app: 'web' } }, template: template('nginx:2'), revisionHistoryLimit: o.history, progressDeadlineSeconds: o.deadline ?? 600,
      strategy: o.recreate ? { type: 'Recreate' } : { type: 'RollingUpdate', rollingUpdate: { maxSurge: o.surge ?? '25%', maxUnavailable: o.unavailable ?? '25%' } },
    },
    status: o.status ?? {},
  };
}

let seq = 0;
function rs(name: string, replicas: number, o: { available?: number; actual?: number; ready?: number; revision?: number; maxReplicas?: number; desired?: number; image?: string; age?: number } = {}): V1ReplicaSet {
  const annotations: Record<string, string> = {};
  if (o.revision !== undefined) annotations[REVISION] = String(o.revision);
  if (o.maxReplicas !== undefined) annotations['deployment.kubernetes.io/max-replicas'] = String(o.maxReplicas);
  if (o.desired !== undefined) annotations['deployment.kubernetes.io/desired-replicas'] = String(o.desired);
  return {
    metadata: { name, namespace: 'ns', uid: `uid-${name}`, creationTimestamp: at(o.age ?? seq++), annotations, generation: 1 },
    spec: { replicas, selector: { matchLabels: { app: 'web' } }, template: { ...template(o.image ?? 'nginx:1'), metadata: { labels: { app: 'web', 'pod-template-hash': name } } } },
    status: { replicas: o.actual ?? replicas, availableReplicas: o.available ?? 0, readyReplicas: o.ready ?? o.available ?? 0, observedGeneration: 1 },
  };
}

t.test('template hash: stable, content-addressed, collision count changes it', async (t) => {
  t.equal(fnv32a(Buffer.from('')), 0x811c9dc5);
  t.equal(fnv32a(Buffer.from('a')), 0xe40c292c);
  t.equal(fnv32a(Buffer.from('foobar')), 0xbf9cf968);
  t.equal(safeEncode('123'), '567');
  const h = computeHash(template('nginx:1.25'));
  t.equal(h, '59bd5955b7', 'frozen: changing the hash would roll every deployment on upgrade');
  t.equal(computeHash(template('nginx:1.25'), 1), '7656855f74');
  t.match(h, /^[bcdfghjklmnpqrstvwxz2456789]+$/);
  t.not(computeHash(template('nginx:1.26')), h);
  const reordered = { spec: { containers: [{ image: 'nginx:1.25', name: 'web' }] }, metadata: { labels: { app: 'web' }, annotations: {} } };
  t.equal(computeHash(reordered), h, 'key order and empty maps do not matter');
  t.same(canonical({ b: 1, a: { c: [], d: null, e: {} } }), { b: 1 });
  const withHash = { ...template('nginx:1.25'), metadata: { labels: { app: 'web', 'pod-template-hash': 'xyz' } } };
  t.ok(equalIgnoreHash(withHash, template('nginx:1.25')), 'equal apart from the hash label');
  t.notOk(equalIgnoreHash(withHash, template('nginx:1.26')));
});

t.test('maxSurge / maxUnavailable fenceposts', async (t) => {
  t.equal(scaledValue('25%', 10, true), 3);
  t.equal(scaledValue('25%', 10, false), 2);
  t.equal(scaledValue(2, 10, true), 2);
  t.throws(() => scaledValue('lots', 10, true), /not a percentage: "lots"/);
  t.same(resolveFenceposts('25%', '25%', 1), { surge: 1, unavailable: 0 });
  t.same(resolveFenceposts(0, 0, 5), { surge: 0, unavailable: 1 }, 'both zero would never progress');
  t.equal(maxSurge(deploy(10)), 3);
  t.equal(maxUnavailable(deploy(10)), 2);
  t.equal(maxUnavailable(deploy(3, { unavailable: 5 })), 3, 'capped at replicas');
  t.equal(maxSurge(deploy(10, { recreate: true })), 0);
  t.equal(maxUnavailable(deploy(0)), 0);
});

t.test('new RS growth within maxSurge', async (t) => {
  const d = deploy(10); // surge 3
  const newRS = rs('new', 0);
  t.equal(newRSNewReplicas(d, [rs('old', 10), newRS], newRS), 3, 'surge 3 above 10');
  t.equal(newRSNewReplicas(d, [rs('old', 12), rs('new2', 1)], rs('new2', 1)), 1, 'at 13 total: no growth');
  t.equal(newRSNewReplicas(d, [rs('old', 2), rs('n', 8)], rs('n', 8)), 10, 'never above the desired count');
  t.equal(newRSNewReplicas(deploy(4, { recreate: true }), [rs('n', 0)], rs('n', 0)), 4, 'Recreate: all at once');
});

t.test('old RS scale-down respects maxUnavailable and removes unhealthy replicas first', async (t) => {
  const d = deploy(10); // maxUnavailable 2, minAvailable 8
  const old = rs('old', 10, { available: 10 });
  const newRS = rs('new', 3, { available: 0 });
  t.equal(maxScaledDown(d, [old, newRS], newRS), 13 - 8 - 3);
  t.same(scaleDownOldPlan(d, [old, newRS], [old]).map((s) => s.replicas), [8], '10 available, may drop to 8');
  const sick = rs('sick', 4, { available: 1, age: -10 });
  const healthy = rs('healthy', 6, { available: 6 });
  const steps = cleanupUnhealthyPlan([healthy, sick], 2);
  t.same(steps.map((s) => [s.rs.metadata!.name, s.replicas]), [['sick', 2]], 'only unavailable replicas, within the budget');
  t.same(scaleDownOldPlan(d, [healthy, newRS], [healthy]), [], '6 available is below minAvailable 8: keep them');
});

t.test('proportional scaling mid-rollout', async (t) => {
  const up = proportionalScalePlan(deploy(20, { surge: 0, unavailable: 1 }), rs('new', 5, { maxReplicas: 10 }), [rs('old', 5, { maxReplicas: 10, age: -100 })]);
  t.equal(up.direction, 'up');
  t.same(up.steps.map((s) => [s.rs.metadata!.name, s.replicas]), [['new', 10], ['old', 10]]);
  const odd = proportionalScalePlan(deploy(10, { surge: 0, unavailable: 1 }), rs('new', 3, { maxReplicas: 7 }), [rs('old', 4, { maxReplicas: 7, age: -100 })]);
  t.same(Object.fromEntries(odd.steps.map((s) => [s.rs.metadata!.name, s.replicas])), { old: 6, new: 4 });
  const down = proportionalScalePlan(deploy(5, { surge: 0, unavailable: 1 }), rs('new', 5, { maxReplicas: 10 }), [rs('old', 5, { maxReplicas: 10, age: -100 })]);
  t.equal(down.direction, 'down');
  t.same(Object.fromEntries(down.steps.map((s) => [s.rs.metadata!.name, s.replicas])), { old: 2, new: 3 }, 'halves round away from zero, leftover to the first');
  const total = (p: typeof up) => p.steps.reduce((n, s) => n + s.replicas, 0);
  t.equal(total(down), 5);
});

t.test('which RS is new, active or saturated', async (t) => {
  const d = deploy(3);
  const a = rs('a', 1, { image: 'nginx:2', age: 5 });
  const b = rs('b', 1, { image: 'nginx:2', age: 1 });
  t.equal(findNewReplicaSet(d, [a, b, rs('c', 1)])?.metadata?.name, 'b', 'oldest matching template');
  t.equal(findActiveOrLatest(undefined, [rs('x', 0, { age: 1 }), rs('y', 0, { age: 2 })])?.metadata?.name, 'y', 'none active: newest');
  t.equal(findActiveOrLatest(rs('n', 0), [rs('x', 2)])?.metadata?.name, 'x', 'the only active one');
  t.equal(findActiveOrLatest(rs('n', 1), [rs('x', 2)]), undefined, 'two active: none');
  t.ok(isSaturated(d, rs('n', 3, { available: 3, desired: 3 })));
  t.notOk(isSaturated(d, rs('n', 3, { available: 2, desired: 3 })));
});

t.test('revisions: new RS gets max+1, a returning template keeps its history', async (t) => {
  const d = deploy(3);
  t.equal(maxRevision([rs('a', 0, { revision: 3 }), rs('b', 0, { revision: 7 }), rs('c', 0)]), 7);
  const fresh = rs('n', 0);
  t.ok(setNewReplicaSetAnnotations(d, fresh, 1, false, 1));
  t.match(fresh.metadata!.annotations, { [REVISION]: '1', 'kubernetes.io/change-cause': 'why', 'deployment.kubernetes.io/desired-replicas': '3', 'deployment.kubernetes.io/max-replicas': '4' });
  t.notOk('kubectl.kubernetes.io/last-applied-configuration' in fresh.metadata!.annotations!, 'last-applied stays on the deployment');
  t.notOk(setNewReplicaSetAnnotations(d, fresh, 1, true, 1), 'nothing to change the second time');
  const back = rs('back', 0, { revision: 1 });
  setNewReplicaSetAnnotations(d, back, 3, true, 1);
  t.equal(back.metadata!.annotations![REVISION], '3');
  t.equal(back.metadata!.annotations![REVISION_HISTORY], '1');
  setNewReplicaSetAnnotations(d, back, 5, true, 1);
  t.equal(back.metadata!.annotations![REVISION_HISTORY], '1,3');
  const longer = rs('l', 0, { revision: 9 });
  longer.metadata!.annotations![REVISION_HISTORY] = '1,2,3';
  setNewReplicaSetAnnotations(d, longer, 10, true, 1, 6);
  t.equal(longer.metadata!.annotations![REVISION_HISTORY], '2,3,9', 'oldest entries dropped to fit the limit');
  const bad = rs('bad', 0);
  bad.metadata!.annotations![REVISION] = 'x';
  t.notOk(setNewReplicaSetAnnotations(d, bad, 4, true, 1), 'an unreadable revision is left alone');
});

t.test('revisionHistoryLimit cleanup deletes the oldest idle revisions only', async (t) => {
  const d = deploy(3, { history: 1 });
  const olds = [rs('r3', 0, { revision: 3 }), rs('r1', 0, { revision: 1 }), rs('r2', 2, { revision: 2 })];
  t.same(replicaSetsToCleanUp(d, olds).map((r) => r.metadata!.name), ['r1'], 'r2 still has replicas');
  t.same(replicaSetsToCleanUp(deploy(3), olds), [], 'no limit: keep all');
  const lagging = rs('lag', 0, { revision: 1 });
  lagging.metadata!.generation = 2;
  t.same(replicaSetsToCleanUp(deploy(3, { history: 0 }), [lagging]), [], 'not while its status lags its spec');
});

t.test('status and the Available / Progressing conditions', async (t) => {
  const d = deploy(4, { generation: 2 }); // maxUnavailable 1
  const newRS = rs('new', 4, { available: 3, ready: 4, actual: 4 });
  const old = rs('old', 1, { available: 1, actual: 1 });
  const s = calculateStatus([old, newRS], newRS, d, NOW);
  t.match(s, { observedGeneration: 2, replicas: 5, updatedReplicas: 4, readyReplicas: 5, availableReplicas: 4, unavailableReplicas: 1 });
  t.match(s.conditions, [{ type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' }]);
  const low = calculateStatus([rs('n', 4, { available: 2 })], undefined, d, NOW);
  t.match(low.conditions, [{ type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable' }]);

  const progressing = rolloutStatus([old, newRS], newRS, d, NOW);
  t.match(progressing.conditions!.find((c) => c.type === 'Progressing'), { status: 'True', reason: 'ReplicaSetUpdated', message: 'ReplicaSet "new" is progressing.' });
  const done = rs('new', 4, { available: 4 });
  const complete = rolloutStatus([done], done, d, NOW);
  t.match(complete.conditions!.find((c) => c.type === 'Progressing'), { status: 'True', reason: 'NewReplicaSetAvailable', message: 'ReplicaSet "new" has successfully progressed.' });
  t.equal(recheckAfter(d, complete, NOW), undefined, 'nothing to watch once complete');

  // No progress for longer than progressDeadlineSeconds: timed out.
  const stuckStatus = { ...calculateStatus([newRS], newRS, d, NOW), conditions: [{ type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', lastUpdateTime: at(-700), lastTransitionTime: at(-700) }] };
  const stuck = deploy(4, { generation: 2, status: stuckStatus });
  const timedOut = rolloutStatus([newRS], newRS, stuck, NOW);
  t.match(timedOut.conditions!.find((c) => c.type === 'Progressing'), { status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "new" has timed out progressing.' });
  const recent = deploy(4, { generation: 2, status: { ...stuckStatus, conditions: [{ ...stuckStatus.conditions[0]!, lastUpdateTime: at(-100) }] } });
  t.equal(recheckAfter(recent, rolloutStatus([newRS], newRS, recent, NOW), NOW), 500_000, 'look again when the deadline passes');
});

t.test('setCondition keeps lastTransitionTime while the status holds', async (t) => {
  const s = { conditions: [{ type: 'Progressing', status: 'True', reason: 'A', lastUpdateTime: at(-10), lastTransitionTime: at(-10) }] };
  setCondition(s, { type: 'Progressing', status: 'True', reason: 'A', lastUpdateTime: at(0), lastTransitionTime: at(0) });
  t.same(s.conditions[0]!.lastUpdateTime, at(-10), 'same status and reason: untouched');
  setCondition(s, { type: 'Progressing', status: 'True', reason: 'B', lastUpdateTime: at(0), lastTransitionTime: at(0) });
  t.match(s.conditions[0], { reason: 'B', lastUpdateTime: at(0), lastTransitionTime: at(-10) });
  setCondition(s, { type: 'Progressing', status: 'False', reason: 'C', lastUpdateTime: at(1), lastTransitionTime: at(1) });
  t.match(s.conditions[0], { status: 'False', lastTransitionTime: at(1) });
});
