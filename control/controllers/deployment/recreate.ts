// The Recreate strategy (upstream recreate.go): scale every old RS to zero, wait until none of their pods is
// still running, then create or scale up the new RS to the desired count.
import type { V1Deployment, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import { deploymentComplete } from './progress.ts';
import { actualReplicas, active, present, replaceIn } from './rslist.ts';
import type { DeploymentSync } from './sync.ts';

/** Old pods still there: old RSs report replicas, or a pod of an old RS has not finished. */
export function oldPodsRunning(newRS: V1ReplicaSet | undefined, oldRSs: V1ReplicaSet[], podsByRS: Map<string, V1Pod[]>): boolean {
  if (actualReplicas(oldRSs) > 0) return true;
  for (const [uid, pods] of podsByRS) {
    if (newRS && newRS.metadata?.uid === uid) continue;
    if (pods.some((p) => p.status?.phase !== 'Failed' && p.status?.phase !== 'Succeeded')) return true;
  }
  return false;
}

export async function rolloutRecreate(s: DeploymentSync, d: V1Deployment, rsList: V1ReplicaSet[], podsByRS: Map<string, V1Pod[]>): Promise<void> {
  let sets = await s.getAllReplicaSetsAndSyncRevision(d, rsList, false);
  let scaledDown = false;
  for (const rs of active(sets.oldRSs)) {
    const r = await s.scaleAndRecord(rs, 0, d);
    sets = replaceIn(sets, r.rs);
    scaledDown ||= r.scaled;
  }
  if (scaledDown) return s.syncRolloutStatus(present([...sets.oldRSs, sets.newRS]), sets.newRS, d);
  if (oldPodsRunning(sets.newRS, sets.oldRSs, podsByRS)) return s.syncRolloutStatus(present([...sets.oldRSs, sets.newRS]), sets.newRS, d);
  if (!sets.newRS) sets = await s.getAllReplicaSetsAndSyncRevision(d, rsList, true);
  const r = await s.scaleAndRecord(sets.newRS!, d.spec?.replicas ?? 1, d);
  sets = replaceIn(sets, r.rs);
  if (d.status && deploymentComplete(d, d.status)) await s.cleanup(sets.oldRSs, d);
  return s.syncRolloutStatus(present([...sets.oldRSs, sets.newRS]), sets.newRS, d);
}
