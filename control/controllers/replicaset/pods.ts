// Pod facts the replicaset and deployment controllers decide on: active, ready, available (ready for
// minReadySeconds), as upstream's pkg/api/v1/pod helpers define them.
import type { V1Pod, V1PodCondition } from '@kubernetes/client-node';
import { timeMs } from './meta.ts';

/** Counts toward a ReplicaSet: not finished and not being deleted. */
export function isPodActive(pod: V1Pod): boolean {
  const phase = pod.status?.phase;
  return phase !== 'Succeeded' && phase !== 'Failed' && !pod.metadata?.deletionTimestamp;
}

export function podReadyCondition(pod: V1Pod): V1PodCondition | undefined {
  return pod.status?.conditions?.find((c) => c.type === 'Ready');
}

export function isPodReady(pod: V1Pod): boolean {
  return podReadyCondition(pod)?.status === 'True';
}

/** Ready, and (with minReadySeconds) ready since at least that long before `now`. */
export function isPodAvailable(pod: V1Pod, minReadySeconds: number, now: number): boolean {
  const c = podReadyCondition(pod);
  if (c?.status !== 'True') return false;
  if (!minReadySeconds) return true;
  const since = timeMs(c.lastTransitionTime);
  return since > 0 && since + minReadySeconds * 1000 < now;
}

/** When a ready-but-not-yet-available pod becomes available (ms), for a delayed resync; undefined if n/a. */
export function availableAt(pod: V1Pod, minReadySeconds: number): number | undefined {
  const c = podReadyCondition(pod);
  if (c?.status !== 'True' || !minReadySeconds) return undefined;
  const since = timeMs(c.lastTransitionTime);
  return since > 0 ? since + minReadySeconds * 1000 : undefined;
}
