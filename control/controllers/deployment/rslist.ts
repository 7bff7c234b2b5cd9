// Facts about a deployment's ReplicaSets (upstream deployment/util): which one is new (its template equals the
// deployment's), which are old, how many replicas they hold, in what order they are scaled.
import type { V1Deployment, V1ReplicaSet } from '@kubernetes/client-node';
import { byCreation } from '../replicaset/meta.ts';
import { equalIgnoreHash } from './hash.ts';
import { DESIRED_REPLICAS } from './history.ts';

export const replicasOf = (rs: V1ReplicaSet | undefined): number => rs?.spec?.replicas ?? 0;

/** Sum of spec.replicas. */
export function specReplicas(rss: (V1ReplicaSet | undefined)[]): number {
  return rss.reduce((n, rs) => n + replicasOf(rs), 0);
}

/** Sum of status.replicas. */
export function actualReplicas(rss: (V1ReplicaSet | undefined)[]): number {
  return rss.reduce((n, rs) => n + (rs?.status?.replicas ?? 0), 0);
}

export function readyReplicas(rss: (V1ReplicaSet | undefined)[]): number {
  return rss.reduce((n, rs) => n + (rs?.status?.readyReplicas ?? 0), 0);
}

export function availableReplicas(rss: (V1ReplicaSet | undefined)[]): number {
  return rss.reduce((n, rs) => n + (rs?.status?.availableReplicas ?? 0), 0);
}

/** ReplicaSets with spec.replicas > 0. */
export function active(rss: (V1ReplicaSet | undefined)[]): V1ReplicaSet[] {
  return rss.filter((rs): rs is V1ReplicaSet => rs !== undefined && replicasOf(rs) > 0);
}

/** The oldest RS whose template matches the deployment's (several can after a hash collision). */
export function findNewReplicaSet(d: V1Deployment, rss: V1ReplicaSet[]): V1ReplicaSet | undefined {
  return [...rss].sort(byCreation).find((rs) => equalIgnoreHash(rs.spec?.template, d.spec?.template));
}

export function findOldReplicaSets(d: V1Deployment, rss: V1ReplicaSet[]): V1ReplicaSet[] {
  const newRS = findNewReplicaSet(d, rss);
  return rss.filter((rs) => rs.metadata?.uid !== newRS?.metadata?.uid);
}

/** Bigger first; equal sizes newer first (scaling up favours the newest). */
export function bySizeNewer(a: V1ReplicaSet, b: V1ReplicaSet): number {
  if (replicasOf(a) !== replicasOf(b)) return replicasOf(b) - replicasOf(a);
  return byCreation(b, a);
}

/** Bigger first; equal sizes older first (scaling down takes from the oldest). */
export function bySizeOlder(a: V1ReplicaSet, b: V1ReplicaSet): number {
  if (replicasOf(a) !== replicasOf(b)) return replicasOf(b) - replicasOf(a);
  return byCreation(a, b);
}

/** The only active RS, or the newest when none is active; undefined when several are active. */
export function findActiveOrLatest(newRS: V1ReplicaSet | undefined, oldRSs: V1ReplicaSet[]): V1ReplicaSet | undefined {
  if (!newRS && oldRSs.length === 0) return undefined;
  const olds = [...oldRSs].sort((a, b) => byCreation(b, a));
  const all = active([...olds, newRS]);
  if (all.length === 0) return newRS ?? olds[0];
  if (all.length === 1) return all[0];
  return undefined;
}

/** The new RS runs exactly the desired replicas, all available, for the current desired count. */
export function isSaturated(d: V1Deployment, rs: V1ReplicaSet | undefined): boolean {
  if (!rs) return false;
  const want = d.spec?.replicas ?? 1;
  const desired = Number(rs.metadata?.annotations?.[DESIRED_REPLICAS]);
  return replicasOf(rs) === want && desired === want && (rs.status?.availableReplicas ?? 0) === want;
}


export interface ReplicaSets { newRS: V1ReplicaSet | undefined; oldRSs: V1ReplicaSet[] }

export function present(rss: (V1ReplicaSet | undefined)[]): V1ReplicaSet[] {
  return rss.filter((rs): rs is V1ReplicaSet => rs !== undefined);
}

/** The sets with one RS replaced by its written version (matched by UID). */
export function replaceIn(sets: ReplicaSets, rs: V1ReplicaSet): ReplicaSets {
  const uid = rs.metadata?.uid;
  return {
    newRS: sets.newRS?.metadata?.uid === uid ? rs : sets.newRS,
    oldRSs: sets.oldRSs.map((o) => (o.metadata?.uid === uid ? rs : o)),
  };
}
