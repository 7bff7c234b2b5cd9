// Claiming (upstream ControllerRefManager): a controller owns what carries its controllerRef. It adopts orphans
// its selector matches (unless it or they are being deleted) and releases what it owns but no longer selects.
// Adoption is gated on a fresh read of the owner from the API, so a controller that was just deleted and
// recreated under the same name never adopts with a stale UID. Writes are strategic-merge patches carrying the
// object's UID, so they fail rather than touch a different object that reused the name.
import type { KubernetesObject, V1OwnerReference } from '@kubernetes/client-node';
import { ApiError } from '../../../api/errors.ts';
import type { LabelSelector } from '../../../api/selectors.ts';
import type { RestClient, ResourceRef } from '../../../client/rest.ts';
import { controllerOf } from './meta.ts';

export interface ClaimOptions<T extends KubernetesObject> {
  owner: KubernetesObject;
  selector: LabelSelector;
  /** Throws when the owner may not adopt (gone, replaced, being deleted); called at most once. */
  canAdopt(): Promise<void>;
  adopt(obj: T): Promise<void>;
  release(obj: T): Promise<void>;
}

function isNotFound(err: unknown): boolean {
  return err instanceof ApiError && err.reason === 'NotFound';
}

/** The objects the owner controls after adopting and releasing; errors are collected, not thrown. */
export async function claimObjects<T extends KubernetesObject>(objs: T[], o: ClaimOptions<T>): Promise<{ claimed: T[]; errors: unknown[] }> {
  const claimed: T[] = [];
  const errors: unknown[] = [];
  const ownerUid = o.owner.metadata?.uid;
  const ownerDeleting = Boolean(o.owner.metadata?.deletionTimestamp);
  let adoptable: Promise<void> | undefined;
  for (const obj of objs) {
    const ref = controllerOf(obj);
    const matches = o.selector.matches(obj.metadata?.labels);
    try {
      if (ref) {
        if (ref.uid !== ownerUid) continue;
        if (matches) claimed.push(obj);
        else if (!ownerDeleting) await o.release(obj);
        continue;
      }
      if (ownerDeleting || !matches || obj.metadata?.deletionTimestamp) continue;
      if (o.owner.metadata?.namespace && o.owner.metadata.namespace !== obj.metadata?.namespace) continue;
      adoptable ??= o.canAdopt();
      await adoptable;
      await o.adopt(obj);
      claimed.push(obj);
    } catch (err) {
      if (!isNotFound(err)) errors.push(err);
    }
  }
  return { claimed, errors };
}

/** Strategic-merge patch bodies for adopting and releasing (the UID makes the patch fail on a different object). */
export function adoptPatch(obj: KubernetesObject, ref: V1OwnerReference): unknown {
  return { metadata: { ownerReferences: [ref], uid: obj.metadata?.uid } };
}

export function releasePatch(obj: KubernetesObject, ownerUid: string): unknown {
  return { metadata: { ownerReferences: [{ $patch: 'delete', uid: ownerUid }], uid: obj.metadata?.uid } };
}

/** canAdopt for an owner: re-read it (not from the cache) and check it is the same object, not being deleted. */
export function recheckOwner(client: RestClient, ref: ResourceRef, owner: KubernetesObject): () => Promise<void> {
  return async () => {
    const fresh = await client.get<KubernetesObject>({ ...ref, namespace: owner.metadata?.namespace, name: owner.metadata?.name });
    const what = `${owner.metadata?.namespace}/${owner.metadata?.name}`;
    if (fresh.metadata?.uid !== owner.metadata?.uid) throw new Error(`original ${what} is gone: got uid ${fresh.metadata?.uid}, wanted ${owner.metadata?.uid}`);
    if (fresh.metadata?.deletionTimestamp) throw new Error(`${what} has just been deleted at ${String(fresh.metadata.deletionTimestamp)}`);
  };
}

/** Patch helpers bound to a resource. */
export function ownerPatcher(client: RestClient, ref: ResourceRef) {
  const target = (obj: KubernetesObject): ResourceRef => ({ ...ref, namespace: obj.metadata?.namespace, name: obj.metadata?.name });
  return {
    adopt: async (obj: KubernetesObject, controllerRef: V1OwnerReference) => { await client.patch(target(obj), 'strategic', adoptPatch(obj, controllerRef)); },
    release: async (obj: KubernetesObject, ownerUid: string) => { await client.patch(target(obj), 'strategic', releasePatch(obj, ownerUid)); },
  };
}
