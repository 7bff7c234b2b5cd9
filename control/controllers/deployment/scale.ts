// Scaling a deployment in the middle of a rollout (upstream sync.go scale + getProportion): the replicas to
// add or remove are spread over the active ReplicaSets in proportion to their size (as recorded in their
// max-replicas annotation), bigger RSs first, and any rounding leftover goes to the biggest.
import type { V1Deployment, V1ReplicaSet } from '@kubernetes/client-node';
import { MAX_REPLICAS } from './history.ts';
import { maxSurge } from './rolling.ts';
import type { ScaleStep } from './rolling.ts';
import { active, bySizeNewer, bySizeOlder, replicasOf, specReplicas } from './rslist.ts';

/** Go's math.Round: halves away from zero. */
function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

function fraction(rs: V1ReplicaSet, d: V1Deployment): number {
  const want = d.spec?.replicas ?? 1;
  if (want === 0) return -replicasOf(rs);
  const deploymentReplicas = want + maxSurge(d);
  const ann = rs.metadata?.annotations?.[MAX_REPLICAS];
  const annotated = ann !== undefined && /^\d+$/.test(ann) ? Number(ann) : d.status?.replicas ?? 0;
  if (annotated === 0) return 0;
  return roundHalfAway((replicasOf(rs) * deploymentReplicas) / annotated) - replicasOf(rs);
}

function proportion(rs: V1ReplicaSet, d: V1Deployment, toAdd: number, added: number): number {
  if (replicasOf(rs) === 0 || toAdd === 0 || toAdd === added) return 0;
  const f = fraction(rs, d);
  const allowed = toAdd - added;
  return toAdd > 0 ? Math.min(f, allowed) : Math.max(f, allowed);
}

/** New sizes for every active RS (the "up"/"down" direction for events), or none when nothing is to change. */
export function proportionalScalePlan(d: V1Deployment, newRS: V1ReplicaSet | undefined, oldRSs: V1ReplicaSet[]): { steps: ScaleStep[]; direction: 'up' | 'down' | '' } {
  const all = active([...oldRSs, newRS]);
  const want = d.spec?.replicas ?? 1;
  const allowedSize = want > 0 ? want + maxSurge(d) : 0;
  const toAdd = allowedSize - specReplicas(all);
  let direction: 'up' | 'down' | '' = '';
  if (toAdd > 0) { all.sort(bySizeNewer); direction = 'up'; }
  if (toAdd < 0) { all.sort(bySizeOlder); direction = 'down'; }
  const sizes = new Map<V1ReplicaSet, number>();
  let added = 0;
  for (const rs of all) {
    if (toAdd !== 0) {
      const p = proportion(rs, d, toAdd, added);
      sizes.set(rs, replicasOf(rs) + p);
      added += p;
    } else sizes.set(rs, replicasOf(rs));
  }
  const steps: ScaleStep[] = all.map((rs, i) => {
    let size = sizes.get(rs)!;
    if (i === 0 && toAdd !== 0) size = Math.max(0, size + (toAdd - added));
    return { rs, replicas: size };
  });
  return { steps, direction };
}
