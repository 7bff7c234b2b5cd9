// RollingUpdate arithmetic (upstream deployment/util and rolling.go), as pure functions over ReplicaSet copies:
// how far above the desired count we may surge, how many may be unavailable, how big the new RS may grow, and
// which old RSs shrink by how much. The sync code applies the plans through the API.
import type { IntOrString, V1Deployment, V1ReplicaSet } from '@kubernetes/client-node';
import { byCreation } from '../replicaset/meta.ts';
import { active, availableReplicas, present, replaceIn, replicasOf, specReplicas } from './rslist.ts';
import { deploymentComplete } from './progress.ts';
import type { DeploymentSync } from './sync.ts';

/** An int-or-percent against `total`: percentages round up or down; bad input is an Error naming the value. */
export function scaledValue(v: IntOrString | undefined, total: number, roundUp: boolean): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number') return Math.trunc(v);
  const m = /^(\d+)%$/.exec(v);
  if (!m) {
    if (/^\d+$/.test(v)) return Number(v);
    throw new Error(`invalid value for IntOrString: invalid type: string is not a percentage: "${v}"`);
  }
  const x = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(x) : Math.floor(x);
}

export const isRollingUpdate = (d: V1Deployment): boolean => (d.spec?.strategy?.type ?? 'RollingUpdate') === 'RollingUpdate';

/** maxSurge (rounded up) and maxUnavailable (rounded down); both zero would deadlock, so unavailable becomes 1. */
export function resolveFenceposts(maxSurge: IntOrString | undefined, maxUnavailable: IntOrString | undefined, desired: number): { surge: number; unavailable: number } {
  const surge = scaledValue(maxSurge ?? '25%', desired, true);
  let unavailable = scaledValue(maxUnavailable ?? '25%', desired, false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { surge, unavailable };
}

export function maxSurge(d: V1Deployment): number {
  if (!isRollingUpdate(d)) return 0;
  const ru = d.spec?.strategy?.rollingUpdate;
  return resolveFenceposts(ru?.maxSurge, ru?.maxUnavailable, d.spec?.replicas ?? 1).surge;
}

export function maxUnavailable(d: V1Deployment): number {
  const want = d.spec?.replicas ?? 1;
  if (!isRollingUpdate(d) || want === 0) return 0;
  const ru = d.spec?.strategy?.rollingUpdate;
  return Math.min(want, resolveFenceposts(ru?.maxSurge, ru?.maxUnavailable, want).unavailable);
}

/** How many replicas the new RS should have now (upstream NewRSNewReplicas). */
export function newRSNewReplicas(d: V1Deployment, allRSs: V1ReplicaSet[], newRS: V1ReplicaSet): number {
  const want = d.spec?.replicas ?? 1;
  if (!isRollingUpdate(d)) return want;
  const current = specReplicas(allRSs);
  const maxTotal = want + maxSurge(d);
  if (current >= maxTotal) return replicasOf(newRS);
  const scaleUp = Math.min(maxTotal - current, want - replicasOf(newRS));
  return replicasOf(newRS) + scaleUp;
}

export interface ScaleStep { rs: V1ReplicaSet; replicas: number }

/** How many old replicas may go at all this round (upstream reconcileOldReplicaSets' maxScaledDown). */
export function maxScaledDown(d: V1Deployment, allRSs: V1ReplicaSet[], newRS: V1ReplicaSet | undefined): number {
  const minAvailable = (d.spec?.replicas ?? 1) - maxUnavailable(d);
  const newUnavailable = replicasOf(newRS) - (newRS?.status?.availableReplicas ?? 0);
  return specReplicas(allRSs) - minAvailable - newUnavailable;
}

/** Old RSs lose their unavailable replicas first (oldest RS first), at most `budget` in total. */
export function cleanupUnhealthyPlan(oldRSs: V1ReplicaSet[], budget: number): ScaleStep[] {
  const steps: ScaleStep[] = [];
  let total = 0;
  for (const rs of [...oldRSs].sort(byCreation)) {
    if (total >= budget) break;
    const r = replicasOf(rs);
    const avail = rs.status?.availableReplicas ?? 0;
    if (r === 0 || r === avail) continue;
    const down = Math.min(budget - total, r - avail);
    steps.push({ rs, replicas: r - down });
    total += down;
  }
  return steps;
}

/** Then available old replicas go while more than minAvailable stay available (oldest RS first). */
export function scaleDownOldPlan(d: V1Deployment, allRSs: V1ReplicaSet[], oldRSs: V1ReplicaSet[]): ScaleStep[] {
  const minAvailable = (d.spec?.replicas ?? 1) - maxUnavailable(d);
  const availableNow = availableReplicas(allRSs);
  if (availableNow <= minAvailable) return [];
  const budget = availableNow - minAvailable;
  const steps: ScaleStep[] = [];
  let total = 0;
  for (const rs of [...oldRSs].sort(byCreation)) {
    if (total >= budget) break;
    const r = replicasOf(rs);
    if (r === 0) continue;
    const down = Math.min(r, budget - total);
    steps.push({ rs, replicas: r - down });
    total += down;
  }
  return steps;
}

// ---- the rollout step (upstream rolloutRolling), applying the plans above through DeploymentSync ----

/** One RollingUpdate step: grow the new RS within maxSurge, else shrink old RSs within maxUnavailable. */
export async function rolloutRolling(s: DeploymentSync, d: V1Deployment, rsList: V1ReplicaSet[]): Promise<void> {
  let sets = await s.getAllReplicaSetsAndSyncRevision(d, rsList, true);
  const newRS = sets.newRS!;
  const want = d.spec?.replicas ?? 1;

  // Scale the new RS toward the desired count (down at once if above it).
  let target = replicasOf(newRS);
  if (replicasOf(newRS) > want) target = want;
  else if (replicasOf(newRS) < want) target = newRSNewReplicas(d, present([...sets.oldRSs, newRS]), newRS);
  if (target !== replicasOf(newRS)) {
    const r = await s.scaleAndRecord(newRS, target, d);
    sets = replaceIn(sets, r.rs);
    if (r.scaled) return s.syncRolloutStatus(present([...sets.oldRSs, sets.newRS]), sets.newRS, d);
  }

  // Scale old RSs down: unhealthy replicas first, then as availability allows.
  if (specReplicas(active(sets.oldRSs)) > 0) {
    const budget = maxScaledDown(d, present([...sets.oldRSs, sets.newRS]), sets.newRS);
    if (budget > 0) {
      let scaledDown = 0;
      for (const step of cleanupUnhealthyPlan(active(sets.oldRSs), budget)) {
        const r = await s.scaleAndRecord(step.rs, step.replicas, d);
        if (r.scaled) scaledDown += replicasOf(step.rs) - step.replicas;
        sets = replaceIn(sets, r.rs);
      }
      const oldActive = active(sets.oldRSs);
      for (const step of scaleDownOldPlan(d, present([...oldActive, sets.newRS]), oldActive)) {
        const r = await s.scaleAndRecord(step.rs, step.replicas, d);
        if (r.scaled) scaledDown += replicasOf(step.rs) - step.replicas;
        sets = replaceIn(sets, r.rs);
      }
      if (scaledDown > 0) return s.syncRolloutStatus(present([...sets.oldRSs, sets.newRS]), sets.newRS, d);
    }
  }

  if (d.status && deploymentComplete(d, d.status)) await s.cleanup(sets.oldRSs, d);
  return s.syncRolloutStatus(present([...sets.oldRSs, sets.newRS]), sets.newRS, d);
}
