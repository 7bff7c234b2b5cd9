// The ReplicaSet controller (upstream pkg/controller/replicaset): keeps spec.replicas active pods carrying the
// RS's controllerRef. Level-triggered: event handlers only queue "ns/name" keys; sync(key) re-reads the cache,
// claims pods (adopt orphans, release non-matching), creates or deletes the difference (creates in slow-start
// batches, at most burstReplicas per sync), and writes status through /status. Expectations keep it from acting
// twice on its own creates and deletes before the informer has seen them.
import type { V1Pod, V1ReplicaSet, V1ReplicaSetStatus } from '@kubernetes/client-node';
import { ApiError } from '../../../api/errors.ts';
import { labelSelectorFromObject } from '../../../api/selectors.ts';
import { EventRecorder } from '../../../client/events.ts';
import type { Informer } from '../../../client/informer.ts';
import { resources } from '../../../client/resources.ts';
import { keyOf, splitKey } from '../../../client/store.ts';
import { WorkQueue, runWorkers } from '../../../client/workqueue.ts';
import type { Controller, ControllerContext } from '../controller.ts';
import { claimObjects, ownerPatcher, recheckOwner } from './claim.ts';
import { Expectations } from './expectations.ts';
import { BY_CONTROLLER, byControllerIndex, controllerOf, copy, errorText, isConflict, newControllerRef, withKind } from './meta.ts';
import { isPodActive, isPodReady } from './pods.ts';
import { podFromTemplate } from './pod-template.ts';
import { podsToDelete } from './ranking.ts';
import { slowStartBatch } from './slowstart.ts';
import { calculateReplicaSetStatus, sameReplicaSetStatus } from './status.ts';

/** Upstream's BurstReplicas: at most this many creates or deletes per sync. */
export const BURST_REPLICAS = 500;
const SLOW_START_INITIAL_BATCH = 1;

// Pods and RSs filed under their controller's UID, orphans under "orphan/<namespace>": a sync never scans a namespace.
const PODS_BY_CONTROLLER = BY_CONTROLLER;
const RS_BY_CONTROLLER = BY_CONTROLLER;

export interface ReplicaSetControllerOptions {
  burstReplicas?: number;
}

export class ReplicaSetController implements Controller {
  readonly name = 'replicaset';
  readonly expectations = new Expectations();
  private readonly ctx: ControllerContext;
  private readonly rsInformer: Informer<V1ReplicaSet>;
  private readonly podInformer: Informer<V1Pod>;
  private readonly queue = new WorkQueue<string>();
  private readonly recorder: EventRecorder;
  private readonly burst: number;

  constructor(ctx: ControllerContext, opts: ReplicaSetControllerOptions = {}) {
    this.ctx = ctx;
    this.burst = opts.burstReplicas ?? BURST_REPLICAS;
    this.recorder = new EventRecorder(ctx.client, { component: 'replicaset-controller', onError: (err) => ctx.log('event failed', { err: errorText(err) }) });
    this.rsInformer = ctx.factory.informerFor<V1ReplicaSet>(resources.replicasets, { indexers: { [RS_BY_CONTROLLER]: byControllerIndex } });
    this.podInformer = ctx.factory.informerFor<V1Pod>(resources.pods, { indexers: { [PODS_BY_CONTROLLER]: byControllerIndex } });
    this.rsInformer.addEventHandler({
      onAdd: (rs) => this.enqueue(rs),
      onUpdate: (_old, rs) => this.enqueue(rs),
      onDelete: (rs) => {
        this.expectations.delete(keyOf(rs));
        this.enqueue(rs);
      },
    });
    this.podInformer.addEventHandler({
      onAdd: (pod) => this.podAdded(pod),
      onUpdate: (old, pod) => this.podUpdated(old, pod),
      onDelete: (pod) => this.podDeleted(pod),
    });
  }

  async run(workers: number): Promise<void> {
    const stop = () => this.queue.shutDown();
    if (this.ctx.signal.aborted) stop();
    this.ctx.signal.addEventListener('abort', stop, { once: true });
    await runWorkers(this.queue, Math.max(1, workers), (key) => this.sync(key), {
      // A Conflict only means our cache was behind our own last write: retried at once, not worth a line.
      onError: (key, err, retries) => { if (!isConflict(err)) this.ctx.log('replicaset sync failed', { key, retries, err: errorText(err) }); },
    });
    await this.recorder.flush();
  }

  private enqueue(rs: V1ReplicaSet): void {
    try {
      this.queue.add(keyOf(rs));
    } catch { /* no name: nothing to sync */ }
  }

  /** The RS a controllerRef points at, if it is one of ours and still the same object. */
  private resolve(namespace: string | undefined, pod: V1Pod): V1ReplicaSet | undefined {
    const ref = controllerOf(pod);
    if (!ref || ref.kind !== 'ReplicaSet' || !ref.apiVersion?.startsWith('apps/')) return undefined;
    const rs = this.rsInformer.store.getByName(namespace, ref.name);
    return rs?.metadata?.uid === ref.uid ? rs : undefined;
  }

  /** ReplicaSets in the pod's namespace whose selector matches it (for orphans). */
  private matching(pod: V1Pod): V1ReplicaSet[] {
    const out: V1ReplicaSet[] = [];
    for (const rs of this.rsInformer.store.byIndex('namespace', pod.metadata?.namespace ?? '')) {
      try {
        const sel = labelSelectorFromObject(rs.spec?.selector);
        if (!sel.empty && sel.matches(pod.metadata?.labels)) out.push(rs);
      } catch { /* a bad selector selects nothing */ }
    }
    return out;
  }

  private podAdded(pod: V1Pod): void {
    if (pod.metadata?.deletionTimestamp) return this.podDeleted(pod);
    const rs = this.resolve(pod.metadata?.namespace, pod);
    if (rs) {
      this.expectations.creationObserved(keyOf(rs));
      return this.enqueue(rs);
    }
    if (!controllerOf(pod)) for (const m of this.matching(pod)) this.enqueue(m);
  }

  private podUpdated(old: V1Pod, pod: V1Pod): void {
    if (old.metadata?.resourceVersion === pod.metadata?.resourceVersion) return;
    const labelChanged = JSON.stringify(old.metadata?.labels ?? {}) !== JSON.stringify(pod.metadata?.labels ?? {});
    if (pod.metadata?.deletionTimestamp) {
      this.podDeleted(pod);
      if (labelChanged) this.podDeleted(old);
      return;
    }
    const oldRef = controllerOf(old), curRef = controllerOf(pod);
    const refChanged = JSON.stringify(oldRef) !== JSON.stringify(curRef);
    if (refChanged && oldRef) {
      const prev = this.resolve(old.metadata?.namespace, old);
      if (prev) this.enqueue(prev);
    }
    if (curRef) {
      const rs = this.resolve(pod.metadata?.namespace, pod);
      if (!rs) return;
      this.enqueue(rs);
      // A pod that just became ready becomes available minReadySeconds later: look again then.
      const minReady = rs.spec?.minReadySeconds ?? 0;
      if (minReady > 0 && !isPodReady(old) && isPodReady(pod)) this.queue.addAfter(keyOf(rs), minReady * 1000 + 1000);
      return;
    }
    if (labelChanged || refChanged) for (const m of this.matching(pod)) this.enqueue(m);
  }

  private podDeleted(pod: V1Pod): void {
    const rs = this.resolve(pod.metadata?.namespace, pod);
    if (!rs) return;
    const key = keyOf(rs);
    this.expectations.deletionObserved(key, keyOf(pod));
    this.enqueue(rs);
  }

  /** Pods this RS may own: those it controls and the orphans of its namespace. */
  private candidatePods(rs: V1ReplicaSet): V1Pod[] {
    const store = this.podInformer.store;
    return [...store.byIndex(PODS_BY_CONTROLLER, rs.metadata!.uid!), ...store.byIndex(PODS_BY_CONTROLLER, `orphan/${rs.metadata!.namespace}`)];
  }

  async sync(key: string): Promise<void> {
    const cached = this.rsInformer.store.get(key);
    if (!cached) {
      this.expectations.delete(key);
      return;
    }
    const needsSync = this.expectations.satisfied(key);
    let selector;
    try {
      selector = labelSelectorFromObject(cached.spec?.selector);
    } catch (err) {
      this.ctx.log('replicaset has an invalid selector', { key, err: errorText(err) });
      return;
    }
    if (selector.empty) return; // validation forbids it; selecting every pod in the namespace would be wrong
    const rs = withKind(copy(cached), 'apps/v1', 'ReplicaSet');
    const { namespace, name } = splitKey(key);
    const pods = this.candidatePods(rs).filter(isPodActive);
    const patcher = ownerPatcher(this.ctx.client, resources.pods);
    const controllerRef = newControllerRef(rs, 'apps/v1', 'ReplicaSet');
    const { claimed, errors } = await claimObjects(pods, {
      owner: rs, selector,
      canAdopt: recheckOwner(this.ctx.client, resources.replicasets, rs),
      adopt: (pod) => patcher.adopt(pod, controllerRef),
      release: (pod) => patcher.release(pod, rs.metadata!.uid!),
    });
    if (errors.length) throw errors[0];

    let manageError: unknown;
    if (needsSync && !rs.metadata?.deletionTimestamp) {
      try {
        await this.manageReplicas(key, claimed, rs);
      } catch (err) {
        manageError = err;
      }
    }
    const status = calculateReplicaSetStatus(rs, claimed, manageError);
    const updated = await this.updateStatus(namespace!, name, rs, status);
    const minReady = updated.spec?.minReadySeconds ?? 0;
    const want = updated.spec?.replicas ?? 1;
    if (manageError === undefined && minReady > 0 && (updated.status?.readyReplicas ?? 0) === want && (updated.status?.availableReplicas ?? 0) !== want) {
      this.queue.addAfter(key, minReady * 1000);
    }
    if (manageError !== undefined) throw manageError;
  }

  private async manageReplicas(key: string, pods: V1Pod[], rs: V1ReplicaSet): Promise<void> {
    const want = rs.spec?.replicas ?? 1;
    const diff = pods.length - want;
    const namespace = rs.metadata!.namespace!;
    if (diff < 0) {
      const count = Math.min(-diff, this.burst);
      this.expectations.expectCreations(key, count);
      const controllerRef = newControllerRef(rs, 'apps/v1', 'ReplicaSet');
      const { successes, error } = await slowStartBatch(count, SLOW_START_INITIAL_BATCH, async () => {
        try {
          const pod = podFromTemplate(rs.spec?.template, namespace, rs.metadata!.name!, controllerRef);
          const created = await this.ctx.client.create<V1Pod>({ ...resources.pods, namespace }, pod);
          this.recorder.event(rs, 'Normal', 'SuccessfulCreate', `Created pod: ${created.metadata?.name}`);
        } catch (err) {
          // A terminating namespace refuses creates: not this controller's failure.
          if (err instanceof ApiError && /being terminated/.test(err.message)) return;
          this.recorder.event(rs, 'Warning', 'FailedCreate', `Error creating: ${errorText(err)}`);
          throw err;
        }
      });
      // Creates never attempted (after a failed batch) will never be observed.
      for (let i = successes; i < count; i++) this.expectations.creationObserved(key);
      if (error !== undefined) throw error;
      return;
    }
    if (diff > 0) {
      const count = Math.min(diff, this.burst);
      const victims = podsToDelete(pods, this.relatedPods(rs), count);
      this.expectations.expectDeletions(key, victims.map((p) => keyOf(p)));
      const results = await Promise.allSettled(victims.map(async (pod) => {
        try {
          await this.ctx.client.delete({ ...resources.pods, namespace, name: pod.metadata!.name! });
          this.recorder.event(rs, 'Normal', 'SuccessfulDelete', `Deleted pod: ${pod.metadata!.name}`);
        } catch (err) {
          // The informer will never see this deletion: stop expecting it.
          this.expectations.deletionObserved(key, keyOf(pod));
          if (err instanceof ApiError && err.reason === 'NotFound') return;
          this.recorder.event(rs, 'Warning', 'FailedDelete', `Error deleting: ${errorText(err)}`);
          throw err;
        }
      }));
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
    }
  }

  /** Active pods of every ReplicaSet that shares this one's controller (a deployment's RSs), for ranking. */
  private relatedPods(rs: V1ReplicaSet): V1Pod[] {
    const ref = controllerOf(rs);
    if (!ref) return this.candidatePods(rs).filter((p) => controllerOf(p)?.uid === rs.metadata?.uid && isPodActive(p));
    const out: V1Pod[] = [];
    for (const sibling of this.rsInformer.store.byIndex(RS_BY_CONTROLLER, ref.uid)) {
      for (const p of this.podInformer.store.byIndex(PODS_BY_CONTROLLER, sibling.metadata!.uid!)) if (isPodActive(p)) out.push(p);
    }
    return out;
  }

  /** PUT /status when something changed; one retry on a fresh copy (upstream statusUpdateRetries = 1). */
  private async updateStatus(namespace: string, name: string, rs: V1ReplicaSet, status: V1ReplicaSetStatus): Promise<V1ReplicaSet> {
    const generation = rs.metadata?.generation ?? 0;
    if (sameReplicaSetStatus(rs.status, { ...status, observedGeneration: generation })) return rs;
    const ref = { ...resources.replicasets, namespace, name };
    let target = rs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.ctx.client.updateStatus<V1ReplicaSet>(ref, { ...target, status: { ...status, observedGeneration: target.metadata?.generation ?? generation } });
      } catch (err) {
        if (attempt >= 1 || (err instanceof ApiError && err.reason === 'NotFound')) throw err;
        target = await this.ctx.client.get<V1ReplicaSet>(ref);
      }
    }
  }
}

export function newReplicaSetController(ctx: ControllerContext): Controller {
  return new ReplicaSetController(ctx);
}
