// What the collector does with one object, decided from facts it has gathered (upstream attemptToDeleteItem and
// processDeletingDependentsItem). Pure: the caller fetched the latest object and classified each owner reference.
import type { V1OwnerReference } from '@kubernetes/client-node';
import { FINALIZER_FOREGROUND, FINALIZER_ORPHAN, finalizersOf, wellFormedOwnerRefs, type MetaLike } from './graph.ts';

export type PropagationPolicy = 'Background' | 'Foreground' | 'Orphan';

/**
 * solid: the owner exists and is not waiting on its dependents. dangling: verified absent (404 or another uid at its
 * coordinates). waiting: being deleted in the foreground. unresolvable: cannot be checked (unknown kind, malformed
 * reference, namespaced owner of a cluster-scoped object): never grounds for deletion.
 */
export type OwnerState = 'solid' | 'dangling' | 'waiting' | 'unresolvable';

export interface ClassifiedRef {
  ref: V1OwnerReference;
  state: OwnerState;
}

export type DependentAction =
  | { type: 'none'; why: string }
  | { type: 'removeOwnerRefs'; uids: string[] }
  | { type: 'delete'; policy: PropagationPolicy; unblockFirst: boolean };

/**
 * For an object with owners:
 * - any solid owner keeps it; references to dangling or waiting owners are dropped from it;
 * - an owner waits on it and it has dependents of its own: delete it in the foreground too (after making its own
 *   references non-blocking if one of its dependents is also waiting on it, which would be a cycle);
 * - otherwise every owner is gone or going: delete it, honouring an orphan/foreground finalizer it already carries.
 */
export function decideForDependent(owners: ClassifiedRef[], latest: MetaLike,
  dependents: { count: number; anyDeletingDependents: boolean }): DependentAction {
  if (owners.length === 0) return { type: 'none', why: 'no owner references' };
  const uidsIn = (s: OwnerState) => owners.filter((o) => o.state === s).map((o) => o.ref.uid);
  const solid = uidsIn('solid');
  const dangling = uidsIn('dangling');
  const waiting = uidsIn('waiting');
  const unresolvable = uidsIn('unresolvable');
  if (solid.length) {
    if (!dangling.length && !waiting.length) return { type: 'none', why: 'owned by a live owner' };
    return { type: 'removeOwnerRefs', uids: [...dangling, ...waiting] };
  }
  if (unresolvable.length) return { type: 'none', why: 'an owner reference cannot be resolved; not deleting on a guess' };
  if (waiting.length && dependents.count > 0) {
    return { type: 'delete', policy: 'Foreground', unblockFirst: dependents.anyDeletingDependents };
  }
  const fin = finalizersOf(latest);
  const policy: PropagationPolicy = fin.includes(FINALIZER_ORPHAN) ? 'Orphan' : fin.includes(FINALIZER_FOREGROUND) ? 'Foreground' : 'Background';
  return { type: 'delete', policy, unblockFirst: false };
}

/** A JSON merge patch that leaves `latest`'s ownerReferences without `uids`; resourceVersion and uid make it conditional. */
export function removeOwnerRefsPatch(latest: MetaLike & { resourceVersion?: string }, uids: string[]): object | undefined {
  const refs = Array.isArray(latest.ownerReferences) ? latest.ownerReferences as V1OwnerReference[] : [];
  const drop = new Set(uids);
  const kept = refs.filter((r) => !(r && typeof r === 'object' && drop.has(r.uid)));
  if (kept.length === refs.length) return undefined;
  return { metadata: { ownerReferences: kept.length ? kept : null, resourceVersion: latest.resourceVersion, uid: latest.uid } };
}

/** Make every blocking ownerReference of `latest` non-blocking (breaks foreground-deletion cycles). */
export function unblockOwnerRefsPatch(latest: MetaLike & { resourceVersion?: string }): object | undefined {
  const refs = Array.isArray(latest.ownerReferences) ? latest.ownerReferences as V1OwnerReference[] : [];
  if (!wellFormedOwnerRefs(refs).some((r) => r.blockOwnerDeletion === true)) return undefined;
  const next = refs.map((r) => (r && typeof r === 'object' && r.blockOwnerDeletion === true ? { ...r, blockOwnerDeletion: false } : r));
  return { metadata: { ownerReferences: next, resourceVersion: latest.resourceVersion, uid: latest.uid } };
}

/** A JSON merge patch removing one finalizer, conditional on resourceVersion; undefined if it is not there. */
export function removeFinalizerPatch(latest: MetaLike & { resourceVersion?: string }, finalizer: string): object | undefined {
  const fin = Array.isArray(latest.finalizers) ? latest.finalizers as unknown[] : [];
  if (!fin.includes(finalizer)) return undefined;
  const kept = fin.filter((f) => f !== finalizer);
  return { metadata: { finalizers: kept.length ? kept : null, resourceVersion: latest.resourceVersion, uid: latest.uid } };
}
