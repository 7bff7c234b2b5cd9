// The API side of a deployment sync (upstream sync.go): find or create the new ReplicaSet and keep revisions in
// step, scale ReplicaSets (with events), proportional scaling for scale-only and paused syncs, cleanup of old
// revisions, and status writes. Works on copies: `d` is this sync's private copy of the cached deployment, and
// is brought up to date with every write the sync makes to it.
import type { V1Deployment, V1ReplicaSet } from '@kubernetes/client-node';
import { ApiError } from '../../../api/errors.ts';
import type { EventRecorder } from '../../../client/events.ts';
import type { RestClient } from '../../../client/rest.ts';
import { resources } from '../../../client/resources.ts';
import { copy, isControlledBy, newControllerRef, withKind } from '../replicaset/meta.ts';
import { POD_TEMPLATE_HASH, computeHash, equalIgnoreHash } from './hash.ts';
import {
  REVISION, maxRevision, replicaSetsToCleanUp, setDeploymentRevision, setNewReplicaSetAnnotations, setReplicasAnnotations,
} from './history.ts';
import { PROGRESSING, getCondition, newCondition, reasons, rolloutStatus, calculateStatus, recheckAfter, sameStatus, setCondition } from './progress.ts';
import { maxSurge, newRSNewReplicas } from './rolling.ts';
import { findActiveOrLatest, findNewReplicaSet, findOldReplicaSets, isSaturated, active, present, replaceIn, replicasOf } from './rslist.ts';
import type { ReplicaSets } from './rslist.ts';
import { proportionalScalePlan } from './scale.ts';

export interface SyncDeps {
  client: RestClient;
  recorder: EventRecorder;
  now: () => number;
  /** Look at this deployment again after ms (progress deadline checks). */
  requeueAfter(d: V1Deployment, ms: number): void;
}

const rsRef = (rs: V1ReplicaSet) => ({ ...resources.replicasets, namespace: rs.metadata!.namespace!, name: rs.metadata!.name! });
const dRef = (d: V1Deployment) => ({ ...resources.deployments, namespace: d.metadata!.namespace!, name: d.metadata!.name! });

export class DeploymentSync {
  private readonly deps: SyncDeps;

  constructor(deps: SyncDeps) {
    this.deps = deps;
  }

  private event(d: V1Deployment, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.deps.recorder.event(withKind(d, 'apps/v1', 'Deployment'), type, reason, message);
  }

  /** Take the server's metadata and status after a write of ours; a spec changed meanwhile ends this sync. */
  private adopt(d: V1Deployment, written: V1Deployment): void {
    if ((written.metadata?.generation ?? 0) !== (d.metadata?.generation ?? 0)) {
      throw new Error(`deployment ${d.metadata?.namespace}/${d.metadata?.name} changed while syncing; syncing again`);
    }
    d.metadata = written.metadata;
    d.status = written.status;
  }

  async updateStatus(d: V1Deployment): Promise<void> {
    const written = await this.deps.client.updateStatus<V1Deployment>(dRef(d), withKind(d, 'apps/v1', 'Deployment'));
    this.adopt(d, written);
  }

  /**
   * The revision annotation lives in metadata, which the kts apiserver (unlike upstream's deployment status
   * strategy) does not take from a /status write: set it with a metadata-only merge patch.
   */
  private async writeRevision(d: V1Deployment): Promise<void> {
    const written = await this.deps.client.patch<V1Deployment>(dRef(d), 'merge', {
      metadata: { annotations: { [REVISION]: d.metadata!.annotations![REVISION] }, resourceVersion: d.metadata?.resourceVersion },
    });
    this.adopt(d, written);
  }

  async getAllReplicaSetsAndSyncRevision(d: V1Deployment, rsList: V1ReplicaSet[], createIfMissing: boolean): Promise<ReplicaSets> {
    const oldRSs = findOldReplicaSets(d, rsList);
    const newRS = await this.getNewReplicaSet(d, rsList, oldRSs, createIfMissing);
    return { newRS, oldRSs };
  }

  private async getNewReplicaSet(d: V1Deployment, rsList: V1ReplicaSet[], oldRSs: V1ReplicaSet[], create: boolean): Promise<V1ReplicaSet | undefined> {
    const existing = findNewReplicaSet(d, rsList);
    const newRevision = maxRevision(oldRSs) + 1;
    if (existing) {
      let rs = withKind(copy(existing), 'apps/v1', 'ReplicaSet');
      const annotationsChanged = setNewReplicaSetAnnotations(d, rs, newRevision, true, maxSurge(d));
      const minReadyChanged = (rs.spec?.minReadySeconds ?? 0) !== (d.spec?.minReadySeconds ?? 0);
      if (annotationsChanged || minReadyChanged) {
        rs.spec!.minReadySeconds = d.spec?.minReadySeconds ?? 0;
        rs = await this.deps.client.update<V1ReplicaSet>(rsRef(rs), rs);
        // Later steps of this sync start from rsList again: let them see what we just wrote.
        const i = rsList.findIndex((x) => x.metadata?.uid === rs.metadata?.uid);
        if (i >= 0) rsList[i] = rs;
      }
      if (setDeploymentRevision(d, rs.metadata?.annotations?.[REVISION] ?? '')) await this.writeRevision(d);
      if (!getCondition(d.status, PROGRESSING)) {
        d.status ??= {};
        setCondition(d.status, newCondition(PROGRESSING, 'True', reasons.foundNewRS, `Found new replica set "${rs.metadata?.name}"`, this.deps.now()));
        await this.updateStatus(d);
      }
      return rs;
    }
    if (!create) return undefined;

    const hash = computeHash(d.spec?.template, d.status?.collisionCount);
    const template = copy(d.spec!.template);
    template.metadata ??= {};
    template.metadata.labels = { ...(template.metadata.labels ?? {}), [POD_TEMPLATE_HASH]: hash };
    const selector = copy(d.spec!.selector);
    selector.matchLabels = { ...(selector.matchLabels ?? {}), [POD_TEMPLATE_HASH]: hash };
    const name = `${d.metadata!.name}-${hash}`;
    const fresh: V1ReplicaSet = {
      apiVersion: 'apps/v1', kind: 'ReplicaSet',
      metadata: { name, namespace: d.metadata!.namespace, ownerReferences: [newControllerRef(d, 'apps/v1', 'Deployment')], labels: { ...template.metadata.labels } },
      spec: { replicas: 0, minReadySeconds: d.spec?.minReadySeconds ?? 0, selector, template },
    };
    const replicas = newRSNewReplicas(d, [...oldRSs, fresh], fresh);
    fresh.spec!.replicas = replicas;
    setNewReplicaSetAnnotations(d, fresh, newRevision, false, maxSurge(d));

    let created: V1ReplicaSet;
    let alreadyExisted = false;
    try {
      created = await this.deps.client.create<V1ReplicaSet>({ ...resources.replicasets, namespace: d.metadata!.namespace }, fresh);
    } catch (err) {
      if (!(err instanceof ApiError && err.reason === 'AlreadyExists')) {
        d.status ??= {};
        const msg = `Failed to create new replica set "${name}": ${err instanceof Error ? err.message : String(err)}`;
        setCondition(d.status, newCondition(PROGRESSING, 'False', reasons.failedRSCreate, msg, this.deps.now()));
        await this.updateStatus(d).catch(() => {});
        throw err;
      }
      const there = await this.deps.client.get<V1ReplicaSet>(rsRef(fresh));
      if (isControlledBy(there, d) && equalIgnoreHash(there.spec?.template, d.spec?.template)) {
        created = there;
        alreadyExisted = true;
      } else {
        // A different template hashed to the same name: bump collisionCount so the next hash differs.
        d.status ??= {};
        d.status.collisionCount = (d.status.collisionCount ?? 0) + 1;
        await this.updateStatus(d);
        throw new Error(`hash collision: replica set ${name} exists with another template; collisionCount is now ${d.status.collisionCount}`);
      }
    }
    if (!alreadyExisted && replicas > 0) this.event(d, 'Normal', 'ScalingReplicaSet', `Scaled up replica set ${name} from 0 to ${replicas}`);
    if (setDeploymentRevision(d, String(newRevision))) await this.writeRevision(d);
    if (!alreadyExisted) {
      d.status ??= {};
      setCondition(d.status, newCondition(PROGRESSING, 'True', reasons.newRSCreated, `Created new replica set "${name}"`, this.deps.now()));
      await this.updateStatus(d);
    }
    return created;
  }

  /** Scale to newScale (and refresh the replica annotations); returns the written RS. */
  async scaleReplicaSet(rs: V1ReplicaSet, newScale: number, d: V1Deployment, direction: string): Promise<{ scaled: boolean; rs: V1ReplicaSet }> {
    const c = withKind(copy(rs), 'apps/v1', 'ReplicaSet');
    const want = d.spec?.replicas ?? 1;
    const sizeChanged = replicasOf(rs) !== newScale;
    const annotationsChanged = setReplicasAnnotations(c, want, want + maxSurge(d));
    if (!sizeChanged && !annotationsChanged) return { scaled: false, rs };
    c.spec!.replicas = newScale;
    const written = await this.deps.client.update<V1ReplicaSet>(rsRef(c), c);
    if (sizeChanged) this.event(d, 'Normal', 'ScalingReplicaSet', `Scaled ${direction} replica set ${rs.metadata?.name} from ${replicasOf(rs)} to ${newScale}`);
    return { scaled: sizeChanged, rs: written };
  }

  async scaleAndRecord(rs: V1ReplicaSet, newScale: number, d: V1Deployment): Promise<{ scaled: boolean; rs: V1ReplicaSet }> {
    if (replicasOf(rs) === newScale) return { scaled: false, rs };
    return this.scaleReplicaSet(rs, newScale, d, replicasOf(rs) < newScale ? 'up' : 'down');
  }

  /** Scale-only sync: the desired count changed (or the deployment is paused). Returns the RSs as written. */
  async scale(d: V1Deployment, newRS: V1ReplicaSet | undefined, oldRSs: V1ReplicaSet[]): Promise<ReplicaSets> {
    const want = d.spec?.replicas ?? 1;
    const one = findActiveOrLatest(newRS, oldRSs);
    if (one) {
      if (replicasOf(one) === want) return { newRS, oldRSs };
      const { rs } = await this.scaleAndRecord(one, want, d);
      return replaceIn({ newRS, oldRSs }, rs);
    }
    let sets: ReplicaSets = { newRS, oldRSs };
    if (isSaturated(d, newRS)) {
      for (const old of active(oldRSs)) sets = replaceIn(sets, (await this.scaleAndRecord(old, 0, d)).rs);
      return sets;
    }
    if ((d.spec?.strategy?.type ?? 'RollingUpdate') !== 'RollingUpdate') return sets;
    const { steps, direction } = proportionalScalePlan(d, newRS, oldRSs);
    for (const step of steps) sets = replaceIn(sets, (await this.scaleReplicaSet(step.rs, step.replicas, d, direction)).rs);
    return sets;
  }

  /** Paused or scaling: resize without rolling, clean up history when paused, write status. */
  async sync(d: V1Deployment, rsList: V1ReplicaSet[]): Promise<void> {
    const found = await this.getAllReplicaSetsAndSyncRevision(d, rsList, false);
    const { newRS, oldRSs } = await this.scale(d, found.newRS, found.oldRSs);
    if (d.spec?.paused) await this.cleanup(oldRSs, d);
    await this.syncStatus(present([...oldRSs, newRS]), newRS, d);
  }

  async syncStatusOnly(d: V1Deployment, rsList: V1ReplicaSet[]): Promise<void> {
    const { newRS, oldRSs } = await this.getAllReplicaSetsAndSyncRevision(d, rsList, false);
    await this.syncStatus(present([...oldRSs, newRS]), newRS, d);
  }

  async syncStatus(allRSs: V1ReplicaSet[], newRS: V1ReplicaSet | undefined, d: V1Deployment): Promise<void> {
    const status = calculateStatus(allRSs, newRS, d, this.deps.now());
    if (sameStatus(d.status, status)) return;
    d.status = status;
    await this.updateStatus(d);
  }

  async syncRolloutStatus(allRSs: V1ReplicaSet[], newRS: V1ReplicaSet | undefined, d: V1Deployment): Promise<void> {
    const now = this.deps.now();
    const status = rolloutStatus(allRSs, newRS, d, now);
    if (sameStatus(d.status, status)) {
      const after = recheckAfter(d, status, now);
      if (after !== undefined) this.deps.requeueAfter(d, after + 250);
      return;
    }
    d.status = status;
    await this.updateStatus(d);
  }

  /** Delete old zero-replica RSs beyond revisionHistoryLimit. */
  async cleanup(oldRSs: V1ReplicaSet[], d: V1Deployment): Promise<void> {
    for (const rs of replicaSetsToCleanUp(d, oldRSs)) {
      try {
        await this.deps.client.delete(rsRef(rs), { preconditions: { uid: rs.metadata?.uid } });
      } catch (err) {
        if (!(err instanceof ApiError && err.reason === 'NotFound')) throw err;
      }
    }
  }
}
