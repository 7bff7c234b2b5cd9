// A ReplicaSet's status from the pods it owns (upstream replica_set_utils.go calculateStatus): replicas,
// fullyLabeledReplicas (pods carrying every template label), readyReplicas, availableReplicas (ready for
// minReadySeconds), and a ReplicaFailure condition while creating or deleting pods fails.
import type { V1Pod, V1ReplicaSet, V1ReplicaSetCondition, V1ReplicaSetStatus } from '@kubernetes/client-node';
import { isPodAvailable, isPodReady } from './pods.ts';
import { wireTime } from './meta.ts';

export function calculateReplicaSetStatus(rs: V1ReplicaSet, activePods: V1Pod[], manageError: unknown, now: number = Date.now()): V1ReplicaSetStatus {
  const status: V1ReplicaSetStatus = { ...(rs.status ?? { replicas: 0 }) };
  const templateLabels = Object.entries(rs.spec?.template?.metadata?.labels ?? {});
  const minReadySeconds = rs.spec?.minReadySeconds ?? 0;
  let fullyLabeled = 0, ready = 0, available = 0;
  for (const pod of activePods) {
    const labels = pod.metadata?.labels ?? {};
    if (templateLabels.every(([k, v]) => labels[k] === v)) fullyLabeled++;
    if (isPodReady(pod)) {
      ready++;
      if (isPodAvailable(pod, minReadySeconds, now)) available++;
    }
  }
  const conditions = (status.conditions ?? []).filter((c) => c.type !== 'ReplicaFailure');
  const failure = status.conditions?.find((c) => c.type === 'ReplicaFailure');
  if (manageError !== undefined && manageError !== null) {
    if (failure) conditions.push(failure);
    else {
      const diff = activePods.length - (rs.spec?.replicas ?? 1);
      const cond: V1ReplicaSetCondition = {
        type: 'ReplicaFailure', status: 'True', reason: diff < 0 ? 'FailedCreate' : diff > 0 ? 'FailedDelete' : '',
        message: manageError instanceof Error ? manageError.message : String(manageError), lastTransitionTime: wireTime(now),
      };
      conditions.push(cond);
    }
  }
  if (conditions.length) status.conditions = conditions;
  else delete status.conditions;
  status.replicas = activePods.length;
  status.fullyLabeledReplicas = fullyLabeled;
  status.readyReplicas = ready;
  status.availableReplicas = available;
  return status;
}

/** Fields the API omits when zero are compared as zero. */
export function sameReplicaSetStatus(a: V1ReplicaSetStatus | undefined, b: V1ReplicaSetStatus): boolean {
  const n = (x: number | undefined) => x ?? 0;
  return n(a?.replicas) === n(b.replicas) && n(a?.fullyLabeledReplicas) === n(b.fullyLabeledReplicas)
    && n(a?.readyReplicas) === n(b.readyReplicas) && n(a?.availableReplicas) === n(b.availableReplicas)
    && n(a?.observedGeneration) === n(b.observedGeneration)
    && JSON.stringify(a?.conditions ?? []) === JSON.stringify(b.conditions ?? []);
}
