// The garbage collector's pure parts: the dependency graph (which uids get queued when objects come and go), the
// decision for one dependent, the patches it sends, the apiserver's GC finalizers per policy, and the REST mapper.
import t from 'tap';
import type { V1OwnerReference } from '@kubernetes/client-node';
import { DependencyGraph, type Identity, type MetaLike } from '../../../control/controllers/garbagecollector/graph.ts';
import {
  decideForDependent, removeFinalizerPatch, removeOwnerRefsPatch, unblockOwnerRefsPatch, type ClassifiedRef,
} from '../../../control/controllers/garbagecollector/decide.ts';
import { RestMapper, type ResourceInfo } from '../../../control/controllers/garbagecollector/restmapper.ts';
import { gcFinalizers } from '../../../control/apiserver/registry/rest.ts';

const rs = (name: string, uid: string, namespace = 'default'): Identity => ({ apiVersion: 'apps/v1', kind: 'ReplicaSet', name, namespace, uid });
const pod = (name: string, uid: string, namespace = 'default'): Identity => ({ apiVersion: 'v1', kind: 'Pod', name, namespace, uid });
const ownedBy = (o: Identity, block?: boolean): V1OwnerReference => ({
  apiVersion: o.apiVersion, kind: o.kind, name: o.name, uid: o.uid, ...(block === undefined ? {} : { blockOwnerDeletion: block }),
});
const meta = (id: Identity, extra: MetaLike = {}): MetaLike => ({ uid: id.uid, name: id.name, namespace: id.namespace, ...extra });
const deleting = (finalizer: string): MetaLike => ({ deletionTimestamp: '2026-01-01T00:00:00Z', finalizers: [finalizer] });

t.test('a dependent seen before its owner gets a virtual owner, queued for a lookup', async (t) => {
  const g = new DependencyGraph();
  const owner = rs('web', 'u-rs');
  const fx = g.upsert(pod('p1', 'u-p1'), meta(pod('p1', 'u-p1'), { ownerReferences: [ownedBy(owner)] }));
  t.same(fx.attemptToDelete, ['u-rs'], 'the unknown owner is verified');
  const v = g.get('u-rs')!;
  t.ok(v.virtual);
  t.same(v.identity, owner, 'coordinates from the reference, namespace from the dependent');
  t.same([...v.dependents].map((d) => d.identity.uid), ['u-p1']);
  const seen = g.upsert(owner, meta(owner));
  t.notOk(g.get('u-rs')!.virtual, 'observing the owner makes it real');
  t.same(seen.attemptToDelete, [], 'a matching dependent needs no re-check');
  t.equal(g.get('u-rs')!.dependents.size, 1, 'links survive the observation');
});

t.test('an owner deleted: its dependents are queued and it is remembered as absent', async (t) => {
  const g = new DependencyGraph();
  const owner = rs('web', 'u-rs');
  g.upsert(owner, meta(owner));
  g.upsert(pod('a', 'u-a'), meta(pod('a', 'u-a'), { ownerReferences: [ownedBy(owner)] }));
  g.upsert(pod('b', 'u-b'), meta(pod('b', 'u-b'), { ownerReferences: [ownedBy(owner)] }));
  g.upsert(pod('c', 'u-c'), meta(pod('c', 'u-c')));
  const fx = g.remove('u-rs');
  t.same(fx.attemptToDelete.sort(), ['u-a', 'u-b']);
  t.same(fx.absent, [owner]);
  t.equal(g.get('u-rs'), undefined);
  t.same(g.remove('u-rs').attemptToDelete, [], 'a second delete is a no-op');
  t.same(g.remove('u-c').absent, [], 'an object without dependents is not worth remembering');
});

t.test('foreground deletion: dependents and the owner are queued; only blockOwnerDeletion dependents block', async (t) => {
  const g = new DependencyGraph();
  const owner = rs('web', 'u-rs');
  g.upsert(owner, meta(owner));
  g.upsert(pod('blocker', 'u-1'), meta(pod('blocker', 'u-1'), { ownerReferences: [ownedBy(owner, true)] }));
  g.upsert(pod('free', 'u-2'), meta(pod('free', 'u-2'), { ownerReferences: [ownedBy(owner, false)] }));
  const fx = g.upsert(owner, meta(owner, deleting('foregroundDeletion')));
  t.ok(g.get('u-rs')!.deletingDependents);
  t.same(fx.attemptToDelete.sort(), ['u-1', 'u-2', 'u-rs']);
  t.same(g.blockingDependents('u-rs').map((d) => d.identity.uid), ['u-1']);
  const gone = g.remove('u-1');
  t.ok(gone.attemptToDelete.includes('u-rs'), 'a dependent gone re-queues the waiting owner');
  t.same(g.blockingDependents('u-rs'), []);
});

t.test('dropping or unblocking a reference re-queues an owner that waits on it', async (t) => {
  const g = new DependencyGraph();
  const owner = rs('web', 'u-rs');
  g.upsert(owner, meta(owner, deleting('foregroundDeletion')));
  const p1 = pod('p1', 'u-1');
  const p2 = pod('p2', 'u-2');
  g.upsert(p1, meta(p1, { ownerReferences: [ownedBy(owner, true)] }));
  g.upsert(p2, meta(p2, { ownerReferences: [ownedBy(owner, true)] }));
  t.same(g.upsert(p1, meta(p1, { ownerReferences: [] })).attemptToDelete, ['u-rs'], 'reference removed');
  t.same(g.upsert(p2, meta(p2, { ownerReferences: [ownedBy(owner, false)] })).attemptToDelete, ['u-rs'], 'blockOwnerDeletion true -> false');
  t.same(g.blockingDependents('u-rs'), []);
  t.equal(g.get('u-rs')!.dependents.size, 1, 'p1 unlinked, p2 still a (non-blocking) dependent');
});

t.test('an owner with the orphan finalizer is queued for orphaning on every observation', async (t) => {
  const g = new DependencyGraph();
  const owner = rs('web', 'u-rs');
  t.same(g.upsert(owner, meta(owner, deleting('orphan'))).attemptToOrphan, ['u-rs']);
  t.same(g.upsert(owner, meta(owner, deleting('orphan'))).attemptToOrphan, ['u-rs'], 'level-triggered (resync)');
  t.same(g.upsert(owner, meta(owner, { finalizers: ['orphan'] })).attemptToOrphan, [], 'not before deletion starts');
});

t.test('a reference to a uid that lives in another namespace is re-checked and reported, in either order', async (t) => {
  const owner = rs('web', 'u-rs', 'a');
  const dep = pod('p', 'u-p', 'b');
  const g1 = new DependencyGraph();
  g1.upsert(owner, meta(owner));
  const fx1 = g1.upsert(dep, meta(dep, { ownerReferences: [ownedBy(owner)] }));
  t.same(fx1.attemptToDelete, ['u-p'], 'owner first: the dependent is looked at');
  t.equal(fx1.invalidOwnerRefs.length, 1);
  t.equal(fx1.invalidOwnerRefs[0]!.ownerNamespace, 'a');
  const g2 = new DependencyGraph();
  g2.upsert(dep, meta(dep, { ownerReferences: [ownedBy(owner)] }));
  t.equal(g2.get('u-rs')!.identity.namespace, 'b', 'virtual owner assumed in the dependent namespace');
  const fx2 = g2.upsert(owner, meta(owner));
  t.same(fx2.attemptToDelete, ['u-p'], 'dependent first: observing the owner elsewhere re-checks it');
  t.equal(fx2.invalidOwnerRefs.length, 1);
  // A cluster-scoped owner (a Node) of a namespaced dependent is fine.
  const node: Identity = { apiVersion: 'v1', kind: 'Node', name: 'n1', namespace: '', uid: 'u-n' };
  const g3 = new DependencyGraph();
  g3.upsert(node, meta(node));
  const fx3 = g3.upsert(dep, meta(dep, { ownerReferences: [ownedBy(node)] }));
  t.same(fx3.attemptToDelete, []);
  t.same(fx3.invalidOwnerRefs, []);
});

t.test('odd ownerReferences never break the graph', async (t) => {
  const g = new DependencyGraph();
  const a = rs('a', 'u-a');
  const b = rs('b', 'u-b');
  const odd = [null, 7, 'x', {}, { uid: 5 }, { kind: 'ReplicaSet' }, ownedBy(a), ownedBy(a), { uid: 'u-x' }];
  const fx = g.upsert(b, meta(b, { ownerReferences: odd }));
  t.same(g.get('u-b')!.owners.map((r) => r.uid), ['u-a', 'u-x'], 'only references with a uid, each once');
  t.same(fx.attemptToDelete.sort(), ['u-a', 'u-x']);
  t.same(g.upsert(b, meta(b, { ownerReferences: 'not a list' })).attemptToDelete, []);
  t.equal(g.get('u-x'), undefined, 'an unreferenced virtual node is dropped');
  // self-reference and a two-object cycle
  t.same(g.upsert(a, meta(a, { ownerReferences: [ownedBy(a, true)] })).attemptToDelete, []);
  t.same(g.blockingDependents('u-a'), [], 'an object never blocks itself');
  g.upsert(a, meta(a, { ownerReferences: [ownedBy(b, true)] }));
  g.upsert(b, meta(b, { ownerReferences: [ownedBy(a, true)] }));
  t.same(g.blockingDependents('u-a').map((d) => d.identity.uid), ['u-b']);
  t.same(g.blockingDependents('u-b').map((d) => d.identity.uid), ['u-a']);
  t.same(g.remove('u-a').attemptToDelete, ['u-b']);
  t.same(g.upsert({ ...a, uid: '' }, {}).attemptToDelete, [], 'no uid, no node');
});

t.test('virtual owner verified absent: it goes and its dependents are queued', async (t) => {
  const g = new DependencyGraph();
  const owner = rs('gone', 'u-gone');
  g.upsert(pod('a', 'u-a'), meta(pod('a', 'u-a'), { ownerReferences: [ownedBy(owner)] }));
  const fx = g.verifiedAbsent('u-gone');
  t.same(fx.attemptToDelete, ['u-a']);
  t.equal(g.get('u-gone'), undefined);
  const real = rs('real', 'u-real');
  g.upsert(real, meta(real));
  g.upsert(pod('b', 'u-b'), meta(pod('b', 'u-b'), { ownerReferences: [ownedBy(real)] }));
  t.same(g.verifiedAbsent('u-real').attemptToDelete, ['u-b'], 'an observed node stays; dependents are re-checked');
  t.ok(g.get('u-real'));
});

const ref = (uid: string): V1OwnerReference => ({ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: uid, uid });
const c = (uid: string, state: ClassifiedRef['state']): ClassifiedRef => ({ ref: ref(uid), state });
const noDeps = { count: 0, anyDeletingDependents: false };

t.test('decideForDependent', async (t) => {
  t.same(decideForDependent([], {}, noDeps).type, 'none');
  t.same(decideForDependent([c('a', 'solid')], {}, noDeps).type, 'none', 'a live owner keeps it');
  t.same(decideForDependent([c('a', 'solid'), c('b', 'dangling'), c('w', 'waiting')], {}, noDeps),
    { type: 'removeOwnerRefs', uids: ['b', 'w'] }, 'references to gone and going owners are dropped');
  t.same(decideForDependent([c('a', 'dangling')], {}, noDeps), { type: 'delete', policy: 'Background', unblockFirst: false });
  t.same(decideForDependent([c('a', 'dangling'), c('b', 'waiting')], {}, noDeps), { type: 'delete', policy: 'Background', unblockFirst: false },
    'a leaf dependent of a foreground deletion goes in the background');
  t.same(decideForDependent([c('a', 'waiting')], {}, { count: 2, anyDeletingDependents: false }),
    { type: 'delete', policy: 'Foreground', unblockFirst: false }, 'with dependents of its own: foreground');
  t.same(decideForDependent([c('a', 'waiting')], {}, { count: 1, anyDeletingDependents: true }),
    { type: 'delete', policy: 'Foreground', unblockFirst: true }, 'a cycle: unblock first');
  t.same(decideForDependent([c('a', 'dangling')], { finalizers: ['orphan'] }, noDeps), { type: 'delete', policy: 'Orphan', unblockFirst: false }, 'its own orphan finalizer is honoured');
  t.same(decideForDependent([c('a', 'dangling')], { finalizers: ['foregroundDeletion'] }, noDeps), { type: 'delete', policy: 'Foreground', unblockFirst: false });
  t.same(decideForDependent([c('a', 'dangling'), c('u', 'unresolvable')], {}, noDeps).type, 'none', 'never delete on an unresolvable reference');
  t.same(decideForDependent([c('s', 'solid'), c('u', 'unresolvable'), c('d', 'dangling')], {}, noDeps),
    { type: 'removeOwnerRefs', uids: ['d'] });
});

t.test('patches are conditional on resourceVersion and uid and change only what they must', async (t) => {
  const m = { uid: 'u', resourceVersion: '42', ownerReferences: [ref('a'), { ...ref('b'), blockOwnerDeletion: true }], finalizers: ['x', 'orphan'] };
  t.same(removeOwnerRefsPatch(m, ['a']), { metadata: { ownerReferences: [{ ...ref('b'), blockOwnerDeletion: true }], resourceVersion: '42', uid: 'u' } });
  t.same(removeOwnerRefsPatch(m, ['a', 'b']), { metadata: { ownerReferences: null, resourceVersion: '42', uid: 'u' } }, 'none left: field removed');
  t.equal(removeOwnerRefsPatch(m, ['zzz']), undefined);
  t.same(unblockOwnerRefsPatch(m), { metadata: { ownerReferences: [ref('a'), { ...ref('b'), blockOwnerDeletion: false }], resourceVersion: '42', uid: 'u' } });
  t.equal(unblockOwnerRefsPatch({ ownerReferences: [ref('a')] }), undefined);
  t.same(removeFinalizerPatch(m, 'orphan'), { metadata: { finalizers: ['x'], resourceVersion: '42', uid: 'u' } });
  t.same(removeFinalizerPatch({ uid: 'u', resourceVersion: '1', finalizers: ['foregroundDeletion'] }, 'foregroundDeletion'),
    { metadata: { finalizers: null, resourceVersion: '1', uid: 'u' } });
  t.equal(removeFinalizerPatch(m, 'foregroundDeletion'), undefined);
});

t.test('the apiserver adds the GC finalizer a DELETE asks for (upstream deletionFinalizersForGarbageCollection)', async (t) => {
  t.same(gcFinalizers([], 'Orphan'), ['orphan']);
  t.same(gcFinalizers([], 'Foreground'), ['foregroundDeletion']);
  t.same(gcFinalizers([], 'Background'), []);
  t.same(gcFinalizers([], undefined), [], 'default policy: background');
  t.same(gcFinalizers(['example.com/x'], 'Orphan'), ['example.com/x', 'orphan'], 'other finalizers kept');
  t.same(gcFinalizers(['orphan'], 'Foreground'), ['foregroundDeletion'], 'an explicit policy replaces the other');
  t.same(gcFinalizers(['foregroundDeletion'], 'Background'), [], 'Background clears both');
  t.same(gcFinalizers(['orphan', 'a'], undefined), ['a', 'orphan'], 'no policy: the finalizer on the object stands');
});

t.test('RestMapper', async (t) => {
  const info = (group: string, version: string, resource: string, kind: string, preferred = true, verbs = ['list', 'watch', 'delete', 'get']): ResourceInfo =>
    ({ group, version, resource, kind, namespaced: true, verbs, preferred });
  const m = new RestMapper([
    info('', 'v1', 'pods', 'Pod'), info('', 'v1', 'events', 'Event'), info('apps', 'v1', 'replicasets', 'ReplicaSet'),
    info('apps', 'v1beta2', 'replicasets', 'ReplicaSet', false), info('x.io', 'v1', 'things', 'Thing', true, ['get', 'list']),
  ]);
  t.equal(m.forKind('v1', 'Pod')?.resource, 'pods');
  t.equal(m.forKind('apps/v1beta2', 'ReplicaSet')?.version, 'v1beta2', 'the named version when served');
  t.equal(m.forKind('apps/v1beta1', 'ReplicaSet')?.version, 'v1', 'otherwise the preferred one');
  t.equal(m.forKind('apps/v1', 'Pod'), undefined, 'group matters');
  t.equal(m.forKind('', 'Pod'), undefined);
  t.same(m.monitorable().map((r) => `${r.group}/${r.resource}@${r.version}`), ['/pods@v1', 'apps/replicasets@v1'],
    'preferred versions that can be listed, watched and deleted; events ignored');
});
