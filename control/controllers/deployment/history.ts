// Revisions and the annotations that carry them (upstream deployment/util): each template a deployment has
// run is a ReplicaSet whose deployment.kubernetes.io/revision is max(old revisions) + 1 when it becomes new
// again; the revisions it held before go to revision-history. The deployment's own annotations (change-cause
// among them) are copied onto its new RS, which is what `kubectl rollout history` reads, and old zero-replica
// RSs beyond revisionHistoryLimit are deleted, oldest revision first.
import type { V1Deployment, V1ReplicaSet } from '@kubernetes/client-node';
import { byCreation } from '../replicaset/meta.ts';

export const REVISION = 'deployment.kubernetes.io/revision';
export const REVISION_HISTORY = 'deployment.kubernetes.io/revision-history';
export const DESIRED_REPLICAS = 'deployment.kubernetes.io/desired-replicas';
export const MAX_REPLICAS = 'deployment.kubernetes.io/max-replicas';
export const CHANGE_CAUSE = 'kubernetes.io/change-cause';
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
const ROLLBACK_TO = 'deprecated.deployment.rollback.to';
/** Upstream caps revision-history at 2000 characters, dropping the oldest entries. */
export const MAX_REVISION_HISTORY_CHARS = 2000;

/** Deployment annotations that stay on the deployment (never copied to its ReplicaSets). */
export const ANNOTATIONS_TO_SKIP = new Set([LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO]);

/** The revision number of an object; 0 when it has none; undefined when the annotation is not a number. */
export function revisionOf(obj: { metadata?: { annotations?: Record<string, string> } } | undefined): number | undefined {
  const v = obj?.metadata?.annotations?.[REVISION];
  if (v === undefined || v === '') return 0;
  return /^\d+$/.test(v) ? Number(v) : undefined;
}

export function maxRevision(rss: V1ReplicaSet[]): number {
  let max = 0;
  for (const rs of rss) max = Math.max(max, revisionOf(rs) ?? 0);
  return max;
}

/** Copy the deployment's annotations (bar the skipped ones) onto the RS; true if anything changed. */
export function copyAnnotationsToReplicaSet(d: V1Deployment, rs: V1ReplicaSet): boolean {
  rs.metadata ??= {};
  const ann = (rs.metadata.annotations ??= {});
  let changed = false;
  for (const [k, v] of Object.entries(d.metadata?.annotations ?? {})) {
    if (ANNOTATIONS_TO_SKIP.has(k) || ann[k] === v) continue;
    ann[k] = v;
    changed = true;
  }
  return changed;
}

/** desired-replicas and max-replicas (desired + maxSurge), which proportional scaling reads back; true if changed. */
export function setReplicasAnnotations(rs: V1ReplicaSet, desired: number, max: number): boolean {
  rs.metadata ??= {};
  const ann = (rs.metadata.annotations ??= {});
  let changed = false;
  if (ann[DESIRED_REPLICAS] !== String(desired)) { ann[DESIRED_REPLICAS] = String(desired); changed = true; }
  if (ann[MAX_REPLICAS] !== String(max)) { ann[MAX_REPLICAS] = String(max); changed = true; }
  return changed;
}

/**
 * Annotations of the deployment's new RS (upstream SetNewReplicaSetAnnotations): copied deployment
 * annotations, the revision raised to `newRevision`, the revision it had before appended to revision-history
 * (a template that comes back), and for a RS about to be created the replica annotations. True if changed.
 */
export function setNewReplicaSetAnnotations(d: V1Deployment, rs: V1ReplicaSet, newRevision: number, exists: boolean, maxSurge: number,
  historyLimitChars = MAX_REVISION_HISTORY_CHARS): boolean {
  let changed = copyAnnotationsToReplicaSet(d, rs);
  const ann = rs.metadata!.annotations!;
  const oldText = ann[REVISION];
  const had = oldText !== undefined;
  const old = revisionOf(rs);
  if (old === undefined) return false; // a revision we cannot read: leave the RS alone (upstream logs and skips)
  if (old < newRevision) {
    ann[REVISION] = String(newRevision);
    changed = true;
    if (had && oldText !== '') {
      const history = ann[REVISION_HISTORY] ?? '';
      if (!history) ann[REVISION_HISTORY] = oldText;
      else {
        let entries = history.split(',');
        let total = history.length + oldText.length + 1;
        while (total > historyLimitChars && entries.length) {
          total -= entries[0]!.length + 1;
          entries = entries.slice(1);
        }
        if (total <= historyLimitChars) ann[REVISION_HISTORY] = [...entries, oldText].join(',');
      }
    }
  }
  const want = d.spec?.replicas ?? 1;
  if (!exists && setReplicasAnnotations(rs, want, want + maxSurge)) changed = true;
  return changed;
}

/** Set the deployment's revision annotation; true if it changed. */
export function setDeploymentRevision(d: V1Deployment, revision: string): boolean {
  d.metadata ??= {};
  const ann = (d.metadata.annotations ??= {});
  if (ann[REVISION] === revision) return false;
  ann[REVISION] = revision;
  return true;
}

/** Lower revision first; equal revisions by creation time (upstream ReplicaSetsByRevision). */
export function byRevision(a: V1ReplicaSet, b: V1ReplicaSet): number {
  const ra = revisionOf(a) ?? 0, rb = revisionOf(b) ?? 0;
  return ra !== rb ? ra - rb : byCreation(a, b);
}

/** Old RSs to delete so at most revisionHistoryLimit remain: oldest revisions first, only fully scaled-down ones. */
export function replicaSetsToCleanUp(d: V1Deployment, oldRSs: V1ReplicaSet[]): V1ReplicaSet[] {
  const limit = d.spec?.revisionHistoryLimit;
  if (limit === undefined || limit === null) return [];
  const alive = oldRSs.filter((rs) => !rs.metadata?.deletionTimestamp);
  const diff = alive.length - limit;
  if (diff <= 0) return [];
  return [...alive].sort(byRevision).slice(0, diff).filter((rs) => (rs.status?.replicas ?? 0) === 0 && (rs.spec?.replicas ?? 0) === 0
    && (rs.metadata?.generation ?? 0) <= (rs.status?.observedGeneration ?? 0));
}
