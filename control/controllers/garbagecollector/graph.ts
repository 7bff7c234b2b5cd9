// The dependency graph the garbage collector keeps from informer events (upstream graph_builder.go): one node per
// object uid, with links from owners to dependents. An owner named by an ownerReference but not (yet) observed gets a
// "virtual" node, which the collector verifies with a GET. Pure: no I/O, no timers; every change returns the uids the
// collector should look at next (attemptToDelete, attemptToOrphan), so tests can read the decisions directly.
import type { V1OwnerReference } from '@kubernetes/client-node';

export const FINALIZER_ORPHAN = 'orphan';
export const FINALIZER_FOREGROUND = 'foregroundDeletion';

/** An object's coordinates. namespace is '' for cluster-scoped objects (and, for virtual nodes, the namespace the first
 *  dependent implied: whether the owner's kind is namespaced is only known once the collector maps its kind). */
export interface Identity {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  uid: string;
}

/** The metadata fields the graph reads; anything else in the object is ignored. */
export interface MetaLike {
  uid?: string;
  name?: string;
  namespace?: string;
  ownerReferences?: unknown;
  deletionTimestamp?: unknown;
  finalizers?: unknown;
}

export interface GraphNode {
  identity: Identity;
  /** The object's well-formed ownerReferences (with a uid), as last observed. */
  owners: V1OwnerReference[];
  dependents: Set<GraphNode>;
  /** Known only through a dependent's ownerReference; not observed from an informer. */
  virtual: boolean;
  beingDeleted: boolean;
  /** Being deleted with the foregroundDeletion finalizer: waits for blocking dependents to go. */
  deletingDependents: boolean;
}

/** A dependent whose ownerReference matches an observed owner's uid but not its coordinates. */
export interface InvalidOwnerRef {
  dependent: Identity;
  ref: V1OwnerReference;
  /** The namespace the owner really is in. */
  ownerNamespace: string;
}

export interface Effects {
  /** uids to (re)consider for deletion, finalizer removal or owner verification. */
  attemptToDelete: string[];
  /** uids of owners being deleted with the orphan finalizer. */
  attemptToOrphan: string[];
  /** Identities now known to be gone (they had dependents): no GET needed to call them absent. */
  absent: Identity[];
  invalidOwnerRefs: InvalidOwnerRef[];
}

export function noEffects(): Effects {
  return { attemptToDelete: [], attemptToOrphan: [], absent: [], invalidOwnerRefs: [] };
}

/** "apps/v1" -> "apps"; "v1" -> "". */
export function groupOf(apiVersion: string): string {
  const i = apiVersion.indexOf('/');
  return i < 0 ? '' : apiVersion.slice(0, i);
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** The ownerReferences the graph can link: objects with a string uid. Anything else is skipped, never fatal. */
export function wellFormedOwnerRefs(refs: unknown): V1OwnerReference[] {
  if (!Array.isArray(refs)) return [];
  const out: V1OwnerReference[] = [];
  const seen = new Set<string>();
  for (const r of refs) {
    if (!r || typeof r !== 'object') continue;
    const ref = r as V1OwnerReference;
    if (typeof ref.uid !== 'string' || !ref.uid || seen.has(ref.uid)) continue;
    seen.add(ref.uid);
    out.push(ref);
  }
  return out;
}

export function finalizersOf(meta: MetaLike): string[] {
  return Array.isArray(meta.finalizers) ? meta.finalizers.filter((f): f is string => typeof f === 'string') : [];
}

export function isBeingDeleted(meta: MetaLike): boolean {
  return meta.deletionTimestamp !== undefined && meta.deletionTimestamp !== null && meta.deletionTimestamp !== '';
}

export function hasFinalizer(meta: MetaLike, f: string): boolean {
  return finalizersOf(meta).includes(f);
}

/** Does an owner observed at `owner` match the coordinates a dependent's ref names (same group, kind, name, and the
 *  dependent's namespace unless the owner is cluster-scoped)? */
export function refMatchesOwner(ref: V1OwnerReference, dependentNamespace: string, owner: Identity): boolean {
  return groupOf(str(ref.apiVersion)) === groupOf(owner.apiVersion) && str(ref.kind) === owner.kind && str(ref.name) === owner.name
    && (owner.namespace === '' || owner.namespace === dependentNamespace);
}

export class DependencyGraph {
  private readonly nodes = new Map<string, GraphNode>();

  get(uid: string): GraphNode | undefined {
    return this.nodes.get(uid);
  }

  get size(): number {
    return this.nodes.size;
  }

  /** An object was added or updated (informer add/update/resync). identity carries apiVersion/kind of the monitor. */
  upsert(identity: Identity, meta: MetaLike): Effects {
    const fx = noEffects();
    const uid = identity.uid;
    if (!uid) return fx;
    const owners = wellFormedOwnerRefs(meta.ownerReferences).filter((r) => r.uid !== uid); // self-references never link
    let node = this.nodes.get(uid);
    if (!node) {
      node = { identity, owners: [], dependents: new Set(), virtual: false, beingDeleted: false, deletingDependents: false };
      this.nodes.set(uid, node);
    } else if (node.virtual) {
      // First observation of an owner we only knew by reference: dependents that named it by other coordinates
      // (another namespace, kind or name) are re-checked; their own lookup decides.
      node.virtual = false;
      node.identity = identity;
      for (const dep of node.dependents) {
        const ref = dep.owners.find((r) => r.uid === uid);
        if (ref && !refMatchesOwner(ref, dep.identity.namespace, identity)) {
          fx.attemptToDelete.push(dep.identity.uid);
          if (identity.namespace && dep.identity.namespace !== identity.namespace) {
            fx.invalidOwnerRefs.push({ dependent: dep.identity, ref, ownerNamespace: identity.namespace });
          }
        }
      }
    } else {
      node.identity = identity;
    }
    this.updateOwners(node, owners, fx);
    node.beingDeleted = isBeingDeleted(meta);
    node.deletingDependents = node.beingDeleted && hasFinalizer(meta, FINALIZER_FOREGROUND);
    // Level-triggered: every observation of an object waiting on the collector queues it again (the queue dedups).
    if (node.beingDeleted && hasFinalizer(meta, FINALIZER_ORPHAN)) fx.attemptToOrphan.push(uid);
    if (node.deletingDependents) {
      for (const dep of node.dependents) fx.attemptToDelete.push(dep.identity.uid);
      fx.attemptToDelete.push(uid);
    }
    return fx;
  }

  /** An object was deleted (informer delete). Its dependents are re-checked; owners waiting on it are re-checked. */
  remove(uid: string): Effects {
    const fx = noEffects();
    const node = this.nodes.get(uid);
    if (!node || node.virtual) return fx;
    this.drop(node, fx);
    if (node.dependents.size) fx.absent.push(node.identity);
    return fx;
  }

  /**
   * The collector looked the virtual node's coordinates up and found nothing (or another uid): forget the node and
   * re-check its dependents. For an observed node this only re-checks dependents (the informer will report the delete).
   */
  verifiedAbsent(uid: string): Effects {
    const fx = noEffects();
    const node = this.nodes.get(uid);
    if (!node) return fx;
    if (node.virtual) this.drop(node, fx);
    else for (const dep of node.dependents) fx.attemptToDelete.push(dep.identity.uid);
    return fx;
  }

  /** Dependents that hold up this owner's foreground deletion: their reference to it has blockOwnerDeletion=true. */
  blockingDependents(uid: string): GraphNode[] {
    const node = this.nodes.get(uid);
    if (!node) return [];
    return [...node.dependents].filter((d) => d.owners.some((r) => r.uid === uid && r.blockOwnerDeletion === true));
  }

  private drop(node: GraphNode, fx: Effects): void {
    const uid = node.identity.uid;
    this.nodes.delete(uid);
    for (const dep of node.dependents) fx.attemptToDelete.push(dep.identity.uid);
    for (const ref of node.owners) {
      const owner = this.nodes.get(ref.uid);
      if (!owner) continue;
      owner.dependents.delete(node);
      if (owner.deletingDependents) fx.attemptToDelete.push(owner.identity.uid);
      this.dropUnreferencedVirtual(owner);
    }
  }

  /** A virtual node nobody references any more is noise: remove it. */
  private dropUnreferencedVirtual(node: GraphNode): void {
    if (node.virtual && node.dependents.size === 0) this.nodes.delete(node.identity.uid);
  }

  private updateOwners(node: GraphNode, owners: V1OwnerReference[], fx: Effects): void {
    const before = new Map(node.owners.map((r) => [r.uid, r]));
    const after = new Map(owners.map((r) => [r.uid, r]));
    for (const [ownerUid, old] of before) {
      const now = after.get(ownerUid);
      const owner = this.nodes.get(ownerUid);
      if (!owner) continue;
      if (!now) {
        owner.dependents.delete(node);
        this.dropUnreferencedVirtual(owner);
        // A removed blocking reference may be the last thing a foreground deletion waits for.
        if (old.blockOwnerDeletion === true && owner.deletingDependents) fx.attemptToDelete.push(ownerUid);
      } else if (old.blockOwnerDeletion === true && now.blockOwnerDeletion !== true && owner.deletingDependents) {
        fx.attemptToDelete.push(ownerUid);
      }
    }
    for (const [ownerUid, ref] of after) {
      let owner = this.nodes.get(ownerUid);
      if (!owner) {
        owner = {
          identity: { apiVersion: str(ref.apiVersion), kind: str(ref.kind), name: str(ref.name), namespace: node.identity.namespace, uid: ownerUid },
          owners: [], dependents: new Set(), virtual: true, beingDeleted: false, deletingDependents: false,
        };
        this.nodes.set(ownerUid, owner);
        fx.attemptToDelete.push(ownerUid);
      } else if (!before.has(ownerUid) && !owner.virtual && !refMatchesOwner(ref, node.identity.namespace, owner.identity)) {
        // The uid belongs to an object elsewhere (another namespace, say): the dependent's own lookup decides.
        fx.attemptToDelete.push(node.identity.uid);
        if (owner.identity.namespace && owner.identity.namespace !== node.identity.namespace) {
          fx.invalidOwnerRefs.push({ dependent: node.identity, ref, ownerNamespace: owner.identity.namespace });
        }
      }
      owner.dependents.add(node);
    }
    node.owners = owners;
  }
}
