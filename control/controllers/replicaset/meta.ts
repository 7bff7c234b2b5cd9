// Small object-metadata helpers the workload controllers share: controller ownerReferences, timestamps that
// arrive as RFC 3339 strings (the client-node types say Date), and copies of cached objects.
import type { KubernetesObject, V1OwnerReference } from '@kubernetes/client-node';
import { ApiError } from '../../../api/errors.ts';

/** The ownerReference with controller=true, if any. */
export function controllerOf(obj: KubernetesObject): V1OwnerReference | undefined {
  return obj.metadata?.ownerReferences?.find((r) => r.controller === true);
}

export function isControlledBy(obj: KubernetesObject, owner: KubernetesObject): boolean {
  const ref = controllerOf(obj);
  return ref !== undefined && ref.uid === owner.metadata?.uid;
}

/** The controllerRef a controller puts on what it creates or adopts (metav1.NewControllerRef). */
export function newControllerRef(owner: KubernetesObject, apiVersion: string, kind: string): V1OwnerReference {
  return { apiVersion, kind, name: owner.metadata!.name!, uid: owner.metadata!.uid!, controller: true, blockOwnerDeletion: true };
}

/** Milliseconds since the epoch of a metadata or condition timestamp; 0 when absent or unparsable. */
export function timeMs(t: unknown): number {
  if (t instanceof Date) return t.getTime();
  if (typeof t !== 'string' || !t) return 0;
  const ms = Date.parse(t);
  return Number.isFinite(ms) ? ms : 0;
}

/** metav1.Time as written on the wire (seconds precision), typed as the client-node models want it. */
export function wireTime(ms: number = Date.now()): Date {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z') as unknown as Date;
}

/** A deep copy of a cached object: informer stores are shared and read-only. */
export function copy<T>(obj: T): T {
  return structuredClone(obj);
}

/** Older first; equal timestamps by name (upstream's ReplicaSetsByCreationTimestamp / ActivePods tie-break). */
export function byCreation(a: KubernetesObject, b: KubernetesObject): number {
  const ta = timeMs(a.metadata?.creationTimestamp), tb = timeMs(b.metadata?.creationTimestamp);
  if (ta !== tb) return ta - tb;
  const na = a.metadata?.name ?? '', nb = b.metadata?.name ?? '';
  return na < nb ? -1 : na > nb ? 1 : 0;
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Index of pods and ReplicaSets by their controller's UID; orphans are filed under "orphan/<namespace>". */
export const BY_CONTROLLER = 'workload-controllers/by-controller';

export function byControllerIndex(obj: KubernetesObject): string[] {
  const ref = controllerOf(obj);
  return [ref ? ref.uid : `orphan/${obj.metadata?.namespace ?? ''}`];
}

/** The object with kind and apiVersion set (list items arrive without them; events and PUTs want them). */
export function withKind<T extends KubernetesObject>(obj: T, apiVersion: string, kind: string): T {
  return { ...obj, apiVersion, kind };
}

export function isConflict(err: unknown): boolean {
  return err instanceof ApiError && err.reason === 'Conflict';
}
