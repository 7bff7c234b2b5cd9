// The Deployment controller (upstream pkg/controller/deployment): owns ReplicaSets, one per pod template the
// deployment has had, and moves replicas from old to new according to the strategy. Level-triggered: handlers
// queue "ns/name" keys of deployments; syncDeployment(key) re-reads the cache, claims ReplicaSets (adopting
// orphans its selector matches, releasing what no longer matches), then either only scales (paused, or the
// desired count changed) or takes one rollout step (RollingUpdate / Recreate) and writes status.
import type { V1Deployment, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import { labelSelectorFromObject } from '../../../api/selectors.ts';
import { EventRecorder } from '../../../client/events.ts';
import type { Informer } from '../../../client/informer.ts';
import { resources } from '../../../client/resources.ts';
import { keyOf } from '../../../client/store.ts';
import { WorkQueue, runWorkers } from '../../../client/workqueue.ts';
import type { Controller, ControllerContext } from '../controller.ts';
import { claimObjects, ownerPatcher, recheckOwner } from '../replicaset/claim.ts';
import { BY_CONTROLLER, byControllerIndex, controllerOf, copy, errorText, isConflict, newControllerRef, withKind } from '../replicaset/meta.ts';
import { DESIRED_REPLICAS } from './history.ts';
import { PROGRESSING, getCondition, hasProgressDeadline, newCondition, reasons, setCondition } from './progress.ts';
import { rolloutRecreate } from './recreate.ts';
import { rolloutRolling } from './rolling.ts';
import { active, present } from './rslist.ts';
import { DeploymentSync } from './sync.ts';

/** Upstream drops a deployment from the queue after this many failed syncs in a row (the next event retries). */
const MAX_RETRIES = 15;

export class DeploymentController implements Controller {
  readonly name = 'deployment';
  private readonly ctx: ControllerContext;
  private readonly dInformer: Informer<V1Deployment>;
  private readonly rsInformer: Informer<V1ReplicaSet>;
  private readonly podInformer: Informer<V1Pod>;
  private readonly queue = new WorkQueue<string>();
  private readonly recorder: EventRecorder;
  private readonly syncer: DeploymentSync;

  constructor(ctx: ControllerContext) {
    this.ctx = ctx;
    this.recorder = new EventRecorder(ctx.client, { component: 'deployment-controller', onError: (err) => ctx.log('event failed', { err: errorText(err) }) });
    this.syncer = new DeploymentSync({
      client: ctx.client, recorder: this.recorder, now: Date.now,
      requeueAfter: (d, ms) => this.queue.addAfter(keyOf(d), ms),
    });
    this.dInformer = ctx.factory.informerFor<V1Deployment>(resources.deployments);
    this.rsInformer = ctx.factory.informerFor<V1ReplicaSet>(resources.replicasets, { indexers: { [BY_CONTROLLER]: byControllerIndex } });
    this.podInformer = ctx.factory.informerFor<V1Pod>(resources.pods, { indexers: { [BY_CONTROLLER]: byControllerIndex } });
    this.dInformer.addEventHandler({
      onAdd: (d) => this.enqueue(d),
      onUpdate: (_old, d) => this.enqueue(d),
      onDelete: (d) => this.enqueue(d),
    });
    this.rsInformer.addEventHandler({
      onAdd: (rs) => this.rsAdded(rs),
      onUpdate: (old, rs) => this.rsUpdated(old, rs),
      onDelete: (rs) => this.rsDeleted(rs),
    });
    this.podInformer.addEventHandler({ onDelete: (pod) => this.podDeleted(pod) });
  }

  async run(workers: number): Promise<void> {
    const stop = () => this.queue.shutDown();
    if (this.ctx.signal.aborted) stop();
    this.ctx.signal.addEventListener('abort', stop, { once: true });
    await runWorkers(this.queue, Math.max(1, workers), (key) => this.sync(key), {
      maxRetries: MAX_RETRIES,
      // A Conflict only means our cache was behind our own last write: retried at once, not worth a line.
      onError: (key, err, retries) => { if (!isConflict(err)) this.ctx.log('deployment sync failed', { key, retries, err: errorText(err) }); },
    });
    await this.recorder.flush();
  }

  private enqueue(d: V1Deployment): void {
    try {
      this.queue.add(keyOf(d));
    } catch { /* nameless: nothing to sync */ }
  }

  /** The deployment a controllerRef points at, if it still is that object. */
  private resolve(namespace: string | undefined, obj: V1ReplicaSet): V1Deployment | undefined {
    const ref = controllerOf(obj);
    if (!ref || ref.kind !== 'Deployment' || !ref.apiVersion?.startsWith('apps/')) return undefined;
    const d = this.dInformer.store.getByName(namespace, ref.name);
    return d?.metadata?.uid === ref.uid ? d : undefined;
  }

  private matching(rs: V1ReplicaSet): V1Deployment[] {
    const out: V1Deployment[] = [];
    for (const d of this.dInformer.store.byIndex('namespace', rs.metadata?.namespace ?? '')) {
      try {
        const sel = labelSelectorFromObject(d.spec?.selector);
        if (!sel.empty && sel.matches(rs.metadata?.labels)) out.push(d);
      } catch { /* a bad selector selects nothing */ }
    }
    return out;
  }

  private rsAdded(rs: V1ReplicaSet): void {
    if (rs.metadata?.deletionTimestamp) return this.rsDeleted(rs);
    const d = this.resolve(rs.metadata?.namespace, rs);
    if (d) return this.enqueue(d);
    if (!controllerOf(rs)) for (const m of this.matching(rs)) this.enqueue(m);
  }

  private rsUpdated(old: V1ReplicaSet, rs: V1ReplicaSet): void {
    if (old.metadata?.resourceVersion === rs.metadata?.resourceVersion) return;
    const oldRef = controllerOf(old), curRef = controllerOf(rs);
    const refChanged = JSON.stringify(oldRef) !== JSON.stringify(curRef);
    if (refChanged && oldRef) {
      const prev = this.resolve(old.metadata?.namespace, old);
      if (prev) this.enqueue(prev);
    }
    if (curRef) {
      const d = this.resolve(rs.metadata?.namespace, rs);
      if (d) this.enqueue(d);
      return;
    }
    const labelChanged = JSON.stringify(old.metadata?.labels ?? {}) !== JSON.stringify(rs.metadata?.labels ?? {});
    if (labelChanged || refChanged) for (const m of this.matching(rs)) this.enqueue(m);
  }

  private rsDeleted(rs: V1ReplicaSet): void {
    const d = this.resolve(rs.metadata?.namespace, rs);
    if (d) this.enqueue(d);
  }

  /** Recreate waits for old pods to go: a pod deletion may unblock it. */
  private podDeleted(pod: V1Pod): void {
    const ref = controllerOf(pod);
    if (!ref || ref.kind !== 'ReplicaSet') return;
    const rs = this.rsInformer.store.getByName(pod.metadata?.namespace, ref.name);
    if (!rs || rs.metadata?.uid !== ref.uid) return;
    const d = this.resolve(rs.metadata?.namespace, rs);
    if (d && d.spec?.strategy?.type === 'Recreate') this.enqueue(d);
  }

  /** Claim this deployment's ReplicaSets: its own plus matching orphans of its namespace. */
  private async replicaSetsFor(d: V1Deployment, selector: ReturnType<typeof labelSelectorFromObject>): Promise<V1ReplicaSet[]> {
    const store = this.rsInformer.store;
    const candidates = [...store.byIndex(BY_CONTROLLER, d.metadata!.uid!), ...store.byIndex(BY_CONTROLLER, `orphan/${d.metadata!.namespace}`)];
    const patcher = ownerPatcher(this.ctx.client, resources.replicasets);
    const ref = newControllerRef(d, 'apps/v1', 'Deployment');
    const { claimed, errors } = await claimObjects(candidates, {
      owner: d, selector,
      canAdopt: recheckOwner(this.ctx.client, resources.deployments, d),
      adopt: (rs) => patcher.adopt(rs, ref),
      release: (rs) => patcher.release(rs, d.metadata!.uid!),
    });
    if (errors.length) throw errors[0];
    return claimed.map((rs) => withKind(copy(rs), 'apps/v1', 'ReplicaSet'));
  }

  private podsByReplicaSet(rsList: V1ReplicaSet[]): Map<string, V1Pod[]> {
    const out = new Map<string, V1Pod[]>();
    for (const rs of rsList) out.set(rs.metadata!.uid!, this.podInformer.store.byIndex(BY_CONTROLLER, rs.metadata!.uid!));
    return out;
  }

  async sync(key: string): Promise<void> {
    const cached = this.dInformer.store.get(key);
    if (!cached) return;
    const d = withKind(copy(cached), 'apps/v1', 'Deployment');
    let selector;
    try {
      selector = labelSelectorFromObject(d.spec?.selector);
    } catch (err) {
      this.ctx.log('deployment has an invalid selector', { key, err: errorText(err) });
      return;
    }
    if (selector.empty) {
      this.recorder.event(d, 'Warning', 'SelectingAll', 'This deployment is selecting all pods. A non-empty selector is required.');
      if ((d.status?.observedGeneration ?? 0) < (d.metadata?.generation ?? 0)) {
        d.status = { ...(d.status ?? {}), observedGeneration: d.metadata?.generation };
        await this.syncer.updateStatus(d);
      }
      return;
    }
    const rsList = await this.replicaSetsFor(d, selector);
    if (d.metadata?.deletionTimestamp) return this.syncer.syncStatusOnly(d, rsList);
    await this.checkPausedConditions(d);
    if (d.spec?.paused) return this.syncer.sync(d, rsList);
    if (await this.isScalingEvent(d, rsList)) return this.syncer.sync(d, rsList);
    if (d.spec?.strategy?.type === 'Recreate') return rolloutRecreate(this.syncer, d, rsList, this.podsByReplicaSet(rsList));
    return rolloutRolling(this.syncer, d, rsList);
  }

  /** Progressing=Unknown DeploymentPaused / DeploymentResumed when spec.paused flips (never over a timeout). */
  private async checkPausedConditions(d: V1Deployment): Promise<void> {
    if (!hasProgressDeadline(d)) return;
    const cond = getCondition(d.status, PROGRESSING);
    if (cond?.reason === reasons.timedOut) return;
    const pausedShown = cond?.reason === reasons.paused;
    d.status ??= {};
    if (d.spec?.paused && !pausedShown) {
      setCondition(d.status, newCondition(PROGRESSING, 'Unknown', reasons.paused, 'Deployment is paused', Date.now()));
    } else if (!d.spec?.paused && pausedShown) {
      setCondition(d.status, newCondition(PROGRESSING, 'Unknown', reasons.resumed, 'Deployment is resumed', Date.now()));
    } else return;
    await this.syncer.updateStatus(d);
  }

  /** An active RS records a different desired count than the deployment has: a scale, not a rollout. */
  private async isScalingEvent(d: V1Deployment, rsList: V1ReplicaSet[]): Promise<boolean> {
    const { newRS, oldRSs } = await this.syncer.getAllReplicaSetsAndSyncRevision(d, rsList, false);
    const want = d.spec?.replicas ?? 1;
    for (const rs of active(present([...oldRSs, newRS]))) {
      const v = rs.metadata?.annotations?.[DESIRED_REPLICAS];
      if (v === undefined || !/^\d+$/.test(v)) continue;
      if (Number(v) !== want) return true;
    }
    return false;
  }
}

export function newDeploymentController(ctx: ControllerContext): Controller {
  return new DeploymentController(ctx);
}
