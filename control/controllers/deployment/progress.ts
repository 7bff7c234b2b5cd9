// Deployment status and its two conditions (upstream sync.go calculateStatus, progress.go):
//   Available   True MinimumReplicasAvailable / False MinimumReplicasUnavailable
//   Progressing True NewReplicaSetCreated | FoundNewReplicaSet | ReplicaSetUpdated | NewReplicaSetAvailable,
//               False ProgressDeadlineExceeded | FailedRSCreate, Unknown DeploymentPaused | DeploymentResumed.
// Pure functions of the deployment, its ReplicaSets and the clock.
import type { V1Deployment, V1DeploymentCondition, V1DeploymentStatus, V1ReplicaSet } from '@kubernetes/client-node';
import { timeMs, wireTime } from '../replicaset/meta.ts';
import { maxUnavailable } from './rolling.ts';
import { actualReplicas, availableReplicas, readyReplicas, specReplicas } from './rslist.ts';

export const AVAILABLE = 'Available';
export const PROGRESSING = 'Progressing';
export const REPLICA_FAILURE = 'ReplicaFailure';

export const reasons = {
  newRSCreated: 'NewReplicaSetCreated',
  foundNewRS: 'FoundNewReplicaSet',
  rsUpdated: 'ReplicaSetUpdated',
  newRSAvailable: 'NewReplicaSetAvailable',
  timedOut: 'ProgressDeadlineExceeded',
  failedRSCreate: 'FailedRSCreate',
  paused: 'DeploymentPaused',
  resumed: 'DeploymentResumed',
  minAvailable: 'MinimumReplicasAvailable',
  minUnavailable: 'MinimumReplicasUnavailable',
} as const;

export function newCondition(type: string, status: 'True' | 'False' | 'Unknown', reason: string, message: string, now: number): V1DeploymentCondition {
  return { type, status, reason, message, lastUpdateTime: wireTime(now), lastTransitionTime: wireTime(now) };
}

export function getCondition(status: V1DeploymentStatus | undefined, type: string): V1DeploymentCondition | undefined {
  return status?.conditions?.find((c) => c.type === type);
}

/** Replace the condition of that type unless status and reason are unchanged; keeps lastTransitionTime if status is. */
export function setCondition(status: V1DeploymentStatus, cond: V1DeploymentCondition): void {
  const cur = getCondition(status, cond.type);
  if (cur && cur.status === cond.status && cur.reason === cond.reason) return;
  const next = { ...cond };
  if (cur && cur.status === cond.status) next.lastTransitionTime = cur.lastTransitionTime;
  status.conditions = [...(status.conditions ?? []).filter((c) => c.type !== cond.type), next];
}

export function removeCondition(status: V1DeploymentStatus, type: string): void {
  if (!status.conditions) return;
  status.conditions = status.conditions.filter((c) => c.type !== type);
}

/** progressDeadlineSeconds set and not "infinite" (MaxInt32). */
export function hasProgressDeadline(d: V1Deployment): boolean {
  const s = d.spec?.progressDeadlineSeconds;
  return s !== undefined && s !== null && s !== 2 ** 31 - 1;
}

export function calculateStatus(allRSs: V1ReplicaSet[], newRS: V1ReplicaSet | undefined, d: V1Deployment, now: number): V1DeploymentStatus {
  const available = availableReplicas(allRSs);
  const status: V1DeploymentStatus = {
    observedGeneration: d.metadata?.generation ?? 0,
    replicas: actualReplicas(allRSs),
    updatedReplicas: actualReplicas([newRS]),
    readyReplicas: readyReplicas(allRSs),
    availableReplicas: available,
    unavailableReplicas: Math.max(0, specReplicas(allRSs) - available),
  };
  if (d.status?.collisionCount !== undefined) status.collisionCount = d.status.collisionCount;
  status.conditions = (d.status?.conditions ?? []).map((c) => ({ ...c }));
  if (available >= (d.spec?.replicas ?? 1) - maxUnavailable(d)) {
    setCondition(status, newCondition(AVAILABLE, 'True', reasons.minAvailable, 'Deployment has minimum availability.', now));
  } else {
    setCondition(status, newCondition(AVAILABLE, 'False', reasons.minUnavailable, 'Deployment does not have minimum availability.', now));
  }
  return status;
}

/** Every desired replica updated, running and available, and the current spec observed. */
export function deploymentComplete(d: V1Deployment, s: V1DeploymentStatus): boolean {
  const want = d.spec?.replicas ?? 1;
  return (s.updatedReplicas ?? 0) === want && (s.replicas ?? 0) === want && (s.availableReplicas ?? 0) === want
    && (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
}

/** More updated, fewer old, more ready or more available replicas than the recorded status. */
export function deploymentProgressing(d: V1Deployment, s: V1DeploymentStatus): boolean {
  const o = d.status ?? {};
  const oldOld = (o.replicas ?? 0) - (o.updatedReplicas ?? 0);
  const newOld = (s.replicas ?? 0) - (s.updatedReplicas ?? 0);
  return (s.updatedReplicas ?? 0) > (o.updatedReplicas ?? 0) || newOld < oldOld
    || (s.readyReplicas ?? 0) > (o.readyReplicas ?? 0) || (s.availableReplicas ?? 0) > (o.availableReplicas ?? 0);
}

export function deploymentTimedOut(d: V1Deployment, s: V1DeploymentStatus, now: number): boolean {
  if (!hasProgressDeadline(d)) return false;
  const c = getCondition(s, PROGRESSING);
  if (!c || c.reason === reasons.newRSAvailable) return false;
  if (c.reason === reasons.timedOut) return true;
  return timeMs(c.lastUpdateTime) + (d.spec!.progressDeadlineSeconds! * 1000) < now;
}

/** The status a rollout step leaves behind (upstream syncRolloutStatus without the write). */
export function rolloutStatus(allRSs: V1ReplicaSet[], newRS: V1ReplicaSet | undefined, d: V1Deployment, now: number): V1DeploymentStatus {
  const s = calculateStatus(allRSs, newRS, d, now);
  if (!hasProgressDeadline(d)) removeCondition(s, PROGRESSING);
  const cur = getCondition(d.status, PROGRESSING);
  const complete = s.replicas === s.updatedReplicas && cur?.reason === reasons.newRSAvailable;
  if (hasProgressDeadline(d) && !complete) {
    if (deploymentComplete(d, s)) {
      const msg = newRS ? `ReplicaSet "${newRS.metadata?.name}" has successfully progressed.` : 'Deployment has successfully progressed.';
      setCondition(s, newCondition(PROGRESSING, 'True', reasons.newRSAvailable, msg, now));
    } else if (deploymentProgressing(d, s)) {
      const msg = newRS ? `ReplicaSet "${newRS.metadata?.name}" is progressing.` : 'Deployment is progressing.';
      const c = newCondition(PROGRESSING, 'True', reasons.rsUpdated, msg, now);
      // Progress refreshes lastUpdateTime even with an unchanged reason (it is what the deadline counts from).
      if (cur?.status === 'True') c.lastTransitionTime = cur.lastTransitionTime;
      removeCondition(s, PROGRESSING);
      setCondition(s, c);
    } else if (deploymentTimedOut(d, s, now)) {
      const msg = newRS ? `ReplicaSet "${newRS.metadata?.name}" has timed out progressing.` : `Deployment "${d.metadata?.name}" has timed out progressing.`;
      setCondition(s, newCondition(PROGRESSING, 'False', reasons.timedOut, msg, now));
    }
  }
  const failure = replicaFailure(allRSs, newRS);
  if (failure) setCondition(s, failure);
  else removeCondition(s, REPLICA_FAILURE);
  return s;
}

/** A ReplicaFailure condition of the new RS (else of any old one), lifted to the deployment. */
function replicaFailure(allRSs: V1ReplicaSet[], newRS: V1ReplicaSet | undefined): V1DeploymentCondition | undefined {
  const pick = (rs: V1ReplicaSet | undefined) => rs?.status?.conditions?.find((c) => c.type === REPLICA_FAILURE);
  const c = pick(newRS) ?? allRSs.map(pick).find((x) => x !== undefined);
  if (!c) return undefined;
  return { type: REPLICA_FAILURE, status: c.status, reason: c.reason, message: c.message, lastUpdateTime: c.lastTransitionTime, lastTransitionTime: c.lastTransitionTime };
}

/**
 * When to look again at a deployment that is progressing but not done, so the deadline is noticed without an
 * event (upstream requeueStuckDeployment): ms from now, or undefined for "no need".
 */
export function recheckAfter(d: V1Deployment, s: V1DeploymentStatus, now: number): number | undefined {
  const c = getCondition(s, PROGRESSING);
  if (!hasProgressDeadline(d) || !c) return undefined;
  if (deploymentComplete(d, s) || c.reason === reasons.timedOut) return undefined;
  return Math.max(0, timeMs(c.lastUpdateTime) + d.spec!.progressDeadlineSeconds! * 1000 - now);
}

/** Status equality as upstream's DeepEqual sees it, with fields the API omits when zero taken as zero. */
export function sameStatus(a: V1DeploymentStatus | undefined, b: V1DeploymentStatus): boolean {
  const norm = (s: V1DeploymentStatus | undefined) => JSON.stringify({
    observedGeneration: s?.observedGeneration ?? 0, replicas: s?.replicas ?? 0, updatedReplicas: s?.updatedReplicas ?? 0,
    readyReplicas: s?.readyReplicas ?? 0, availableReplicas: s?.availableReplicas ?? 0, unavailableReplicas: s?.unavailableReplicas ?? 0,
    collisionCount: s?.collisionCount ?? null,
    conditions: (s?.conditions ?? []).map((c) => [c.type, c.status, c.reason ?? '', c.message ?? '', timeMs(c.lastUpdateTime), timeMs(c.lastTransitionTime)]),
  });
  return norm(a) === norm(b);
}
