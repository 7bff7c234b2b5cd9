// Which pods a ReplicaSet deletes first when it scales down (upstream controller.ActivePodsWithRanks), so that
// scaling down removes the pods that are doing the least work:
//   unscheduled < scheduled; Pending < Unknown < Running; not ready < ready; lower pod-deletion-cost first;
//   more related pods on the same node first (spreads what is left); ready for less time first (in
//   power-of-two buckets); more container restarts first; newer first (also in power-of-two buckets).
import type { V1Pod } from '@kubernetes/client-node';
import { isPodActive, isPodReady, podReadyCondition } from './pods.ts';
import { timeMs } from './meta.ts';

export const POD_DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';

const PHASE_ORDER: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

export interface RankedPod {
  pod: V1Pod;
  /** How many related active pods (this RS's and its siblings') run on the same node. */
  rank: number;
}

function deletionCost(pod: V1Pod): number {
  const v = pod.metadata?.annotations?.[POD_DELETION_COST];
  if (v === undefined || !/^[+-]?\d+$/.test(v.trim())) return 0;
  const n = Number(v);
  return n >= -(2 ** 31) && n < 2 ** 31 ? n : 0;
}

function maxRestarts(pod: V1Pod): number {
  return Math.max(0, ...(pod.status?.containerStatuses ?? []).map((c) => c.restartCount ?? 0));
}

/** a "after or zero" b: a zero time sorts first, otherwise the later time first. */
function afterOrZero(a: number, b: number): boolean {
  if (a === 0 || b === 0) return a === 0;
  return a > b;
}

function log2Bucket(t: number, now: number): number {
  const d = (now - t) * 1e6; // upstream works in nanoseconds
  return d > 0 ? Math.floor(Math.log2(d)) : -1;
}

/** Negative when a should be deleted before b. */
export function compareForDeletion(a: RankedPod, b: RankedPod, now: number): number {
  const pa = a.pod, pb = b.pod;
  const na = pa.spec?.nodeName ?? '', nb = pb.spec?.nodeName ?? '';
  if (na !== nb && (na === '' || nb === '')) return na === '' ? -1 : 1;
  const oa = PHASE_ORDER[pa.status?.phase ?? ''] ?? 0, ob = PHASE_ORDER[pb.status?.phase ?? ''] ?? 0;
  if (oa !== ob) return oa - ob;
  const ra = isPodReady(pa), rb = isPodReady(pb);
  if (ra !== rb) return ra ? 1 : -1;
  const ca = deletionCost(pa), cb = deletionCost(pb);
  if (ca !== cb) return ca - cb;
  if (a.rank !== b.rank) return b.rank - a.rank;
  const byTime = (ta: number, tb: number): number => {
    if (ta === tb) return 0;
    if (ta === 0 || tb === 0) return afterOrZero(ta, tb) ? -1 : 1;
    const diff = log2Bucket(ta, now) - log2Bucket(tb, now);
    if (diff !== 0) return diff;
    const ua = pa.metadata?.uid ?? '', ub = pb.metadata?.uid ?? '';
    return ua < ub ? -1 : ua > ub ? 1 : 0;
  };
  if (ra && rb) {
    const r = byTime(timeMs(podReadyCondition(pa)?.lastTransitionTime), timeMs(podReadyCondition(pb)?.lastTransitionTime));
    if (r !== 0) return r;
  }
  const xa = maxRestarts(pa), xb = maxRestarts(pb);
  if (xa !== xb) return xb - xa;
  return byTime(timeMs(pa.metadata?.creationTimestamp), timeMs(pb.metadata?.creationTimestamp));
}

/** The `count` pods to delete, given this RS's active pods and the active pods of related ReplicaSets. */
export function podsToDelete(pods: V1Pod[], related: V1Pod[], count: number, now: number = Date.now()): V1Pod[] {
  if (count >= pods.length) return pods.slice(0, count);
  const onNode = new Map<string, number>();
  for (const p of related) {
    if (!isPodActive(p) || !p.spec?.nodeName) continue;
    onNode.set(p.spec.nodeName, (onNode.get(p.spec.nodeName) ?? 0) + 1);
  }
  const ranked: RankedPod[] = pods.map((pod) => ({ pod, rank: pod.spec?.nodeName ? onNode.get(pod.spec.nodeName) ?? 0 : 0 }));
  ranked.sort((a, b) => compareForDeletion(a, b, now));
  return ranked.slice(0, count).map((r) => r.pod);
}
