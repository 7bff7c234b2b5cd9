// The garbage collector (upstream pkg/controller/garbagecollector): watches every resource that can own or be owned,
// keeps the dependency graph, and works two queues of uids:
// - attemptToDelete: delete objects whose owners are all gone (Background) or waiting on them (foreground deletion),
//   drop references to gone owners from objects that still have a live one, verify virtual owners with a GET, and
//   remove an owner's foregroundDeletion finalizer once no dependent blocks it;
// - attemptToOrphan: remove an owner's reference from each of its dependents, then the owner's orphan finalizer.
// Informer handlers only update the (pure, in-memory) graph and queue uids; every API call happens in the workers,
// re-reads the object, and is safe to repeat.
import type { KubernetesObject, V1ObjectMeta, V1OwnerReference } from '@kubernetes/client-node';
import { ApiError } from '../../../api/errors.ts';
import { EventRecorder } from '../../../client/events.ts';
import type { Informer } from '../../../client/informer.ts';
import { BucketRateLimiter, ItemExponentialRateLimiter, MaxOfRateLimiter, WorkQueue, runWorkers } from '../../../client/workqueue.ts';
import { Backoff, sleep } from '../../../client/ratelimit.ts';
import type { Controller, ControllerContext } from '../controller.ts';
import {
  decideForDependent, removeFinalizerPatch, removeOwnerRefsPatch, unblockOwnerRefsPatch, type ClassifiedRef, type OwnerState,
  type PropagationPolicy,
} from './decide.ts';
import {
  DependencyGraph, FINALIZER_FOREGROUND, groupOf, FINALIZER_ORPHAN, hasFinalizer, isBeingDeleted, type Effects, type GraphNode, type Identity,
  type MetaLike,
} from './graph.ts';
import { DEFAULT_IGNORED, RestMapper, apiVersionOfInfo, discover, refOf, type ResourceInfo } from './restmapper.ts';

export interface GarbageCollectorOptions {
  /** Use these resources instead of asking discovery (tests). */
  mapper?: RestMapper;
  /** "group/resource" keys not to watch (default: core and events.k8s.io events). */
  ignoredResources?: ReadonlySet<string>;
  /** How long to wait for the monitors' first lists before working anyway (default 120 s). */
  syncTimeoutMs?: number;
  /** Entries in the cache of owners verified absent (default 1000). */
  absentCacheSize?: number;
}

type Obj = KubernetesObject & { metadata?: V1ObjectMeta };

const MAX_CONFLICT_RETRIES = 5;
/** Dependents orphaned at once for one owner. */
const ORPHAN_PARALLELISM = 10;

/** A bounded set with least-recently-used eviction. */
class LruSet {
  private readonly keys = new Map<string, true>();
  private readonly max: number;
  constructor(max: number) {
    this.max = Math.max(1, max);
  }
  has(k: string): boolean {
    if (!this.keys.has(k)) return false;
    this.keys.delete(k);
    this.keys.set(k, true);
    return true;
  }
  add(k: string): void {
    this.keys.delete(k);
    this.keys.set(k, true);
    if (this.keys.size > this.max) this.keys.delete(this.keys.keys().next().value!);
  }
}

function absentKey(group: string, kind: string, namespace: string, name: string, uid: string): string {
  return [group, kind, namespace, name, uid].join('|');
}

function isCode(err: unknown, code: number): boolean {
  return err instanceof ApiError && err.code === code;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

export class GarbageCollector implements Controller {
  readonly name = 'garbage-collector';
  readonly graph = new DependencyGraph();
  private readonly ctx: ControllerContext;
  private readonly opts: GarbageCollectorOptions;
  private mapper = new RestMapper([]);
  /** Monitors by "group/resource". */
  private readonly informers = new Map<string, Informer<Obj>>();
  private readonly absent: LruSet;
  private readonly attemptToDelete = new WorkQueue<string>(gcRateLimiter());
  private readonly attemptToOrphan = new WorkQueue<string>(gcRateLimiter());
  private readonly recorder: EventRecorder;
  /** Problems already logged, so a bad reference does not flood the log on every retry. */
  private readonly reported = new Set<string>();
  private readonly unregister: (() => void)[] = [];
  /** Counters, for tests and metrics. */
  readonly stats = { deletes: 0, ownerRefPatches: 0, finalizersRemoved: 0, lookups: 0 };

  constructor(ctx: ControllerContext, opts: GarbageCollectorOptions = {}) {
    this.ctx = ctx;
    this.opts = opts;
    this.absent = new LruSet(opts.absentCacheSize ?? 1000);
    this.recorder = new EventRecorder(ctx.client, {
      component: 'garbage-collector-controller',
      onError: (err) => ctx.log('garbage collector: recording an event failed', { err: String(err) }),
    });
  }

  private synced = false;
  private markSynced: () => void = () => {};
  /** Resolves once discovery is done and every monitor has listed (the workers start then). */
  readonly whenSynced = new Promise<void>((resolve) => { this.markSynced = resolve; });

  hasSynced(): boolean {
    return this.synced;
  }

  async run(workers: number): Promise<void> {
    const { signal } = this.ctx;
    try {
      this.mapper = this.opts.mapper ?? await this.discoverUntilDone(signal);
      this.startMonitors();
      await this.waitForMonitors(signal);
    } catch (err) {
      this.stopHandlers();
      if (signal.aborted) return;
      throw err;
    }
    this.synced = true;
    this.markSynced();
    const stop = () => {
      this.attemptToDelete.shutDown();
      this.attemptToOrphan.shutDown();
    };
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
    const n = Math.max(1, workers);
    const onError = (what: string) => (uid: string, err: unknown, retries: number) => {
      if (!signal.aborted) this.ctx.log(`garbage collector: ${what} failed, will retry`, { uid, retries, err: err instanceof Error ? err.message : String(err) });
    };
    await Promise.all([
      runWorkers(this.attemptToDelete, n, (uid) => this.attemptToDeleteItem(uid), { onError: onError('attemptToDelete') }),
      runWorkers(this.attemptToOrphan, n, (uid) => this.attemptToOrphanItem(uid), { onError: onError('attemptToOrphan') }),
    ]);
    this.stopHandlers();
  }

  /**
   * Wait for every monitor's first list. One that cannot list (say, a resource this identity may not read) must not
   * keep the collector idle forever: after syncTimeoutMs it starts anyway. That is safe because no owner is called
   * gone without a live GET; an unsynced resource only means its objects are not yet in the graph.
   */
  private async waitForMonitors(signal: AbortSignal): Promise<void> {
    const timeout = AbortSignal.timeout(this.opts.syncTimeoutMs ?? 120_000);
    try {
      await Promise.all([...this.informers.values()].map((i) => i.waitForSync(AbortSignal.any([signal, timeout]))));
    } catch (err) {
      if (signal.aborted) throw err;
      const unsynced = [...this.informers].filter(([, i]) => !i.hasSynced()).map(([k]) => k);
      this.ctx.log('garbage collector: starting before every monitor synced', { unsynced });
    }
  }

  private stopHandlers(): void {
    for (const u of this.unregister.splice(0)) u();
  }

  private async discoverUntilDone(signal: AbortSignal): Promise<RestMapper> {
    const backoff = new Backoff(500, 30_000);
    for (;;) {
      try {
        const m = await discover(this.ctx.client, signal);
        if (m.monitorable(this.ignored).length) return m;
        throw new Error('discovery listed no resources to monitor');
      } catch (err) {
        if (signal.aborted) throw err;
        this.ctx.log('garbage collector: discovery failed, retrying', { err: err instanceof Error ? err.message : String(err) });
        await sleep(backoff.next(), signal);
      }
    }
  }

  private get ignored(): ReadonlySet<string> {
    return this.opts.ignoredResources ?? DEFAULT_IGNORED;
  }

  private startMonitors(): void {
    for (const info of this.mapper.monitorable(this.ignored)) {
      const key = `${info.group}/${info.resource}`;
      if (this.informers.has(key)) continue;
      const inf = this.ctx.factory.informerFor<Obj>(refOf(info));
      this.informers.set(key, inf);
      this.unregister.push(inf.addEventHandler({
        onAdd: (o) => this.observe(info, o, false),
        onUpdate: (old, o) => {
          // Deleted and re-created under the same name while the watch was down: the old uid is gone.
          if (old?.metadata?.uid && old.metadata.uid !== o?.metadata?.uid) this.observe(info, old, true);
          this.observe(info, o, false);
        },
        onDelete: (o) => this.observe(info, o, true),
      }));
      inf.start(); // idempotent; the host may already have started the factory
    }
  }

  private observe(info: ResourceInfo, obj: Obj, deleted: boolean): void {
    const md = obj?.metadata;
    if (!md?.uid) return;
    const fx = deleted ? this.graph.remove(md.uid) : this.graph.upsert(this.identityOf(info, md), md as MetaLike);
    this.apply(fx);
  }

  private identityOf(info: ResourceInfo, md: V1ObjectMeta): Identity {
    return { apiVersion: apiVersionOfInfo(info), kind: info.kind, name: md.name ?? '', namespace: info.namespaced ? md.namespace ?? '' : '', uid: md.uid ?? '' };
  }

  private apply(fx: Effects): void {
    for (const uid of fx.attemptToDelete) this.attemptToDelete.add(uid);
    for (const uid of fx.attemptToOrphan) this.attemptToOrphan.add(uid);
    for (const id of fx.absent) this.absent.add(absentKey(groupOf(id.apiVersion), id.kind, id.namespace, id.name, id.uid));
    for (const bad of fx.invalidOwnerRefs) this.reportInvalidNamespace(bad.dependent, bad.ref);
  }

  // ---- attemptToDelete ----

  private async attemptToDeleteItem(uid: string): Promise<void> {
    const node = this.graph.get(uid);
    if (!node) return;
    if (node.virtual) return this.verifyVirtual(node);
    // "Being deleted" is a one-way trip: wait for the informer to report it gone, then look at its dependents.
    if (node.beingDeleted && !node.deletingDependents) return;
    const info = this.mapper.forKind(node.identity.apiVersion, node.identity.kind);
    if (!info) return;
    const latest = await this.getObject(info, node.identity.namespace, node.identity.name);
    if (!latest || latest.metadata?.uid !== uid) {
      this.apply(this.graph.verifiedAbsent(uid));
      return;
    }
    const meta = latest.metadata as MetaLike;
    if (isBeingDeleted(meta)) {
      if (hasFinalizer(meta, FINALIZER_FOREGROUND)) await this.processDeletingDependents(node, info, latest);
      return;
    }
    const refs = Array.isArray(meta.ownerReferences) ? meta.ownerReferences as unknown[] : [];
    if (!refs.length) return;
    const classified: ClassifiedRef[] = [];
    for (const r of refs) {
      if (!r || typeof r !== 'object' || typeof (r as V1OwnerReference).uid !== 'string' || !(r as V1OwnerReference).uid) {
        this.reportOnce(`malformed:${uid}`, 'ignoring an ownerReference without a uid', node.identity);
        continue;
      }
      const ref = r as V1OwnerReference;
      classified.push({ ref, state: await this.classify(ref, node.identity) });
    }
    const deps = [...node.dependents];
    const action = decideForDependent(classified, meta, { count: deps.length, anyDeletingDependents: deps.some((d) => d.deletingDependents) });
    switch (action.type) {
      case 'none':
        return;
      case 'removeOwnerRefs':
        await this.patchWithRetry(info, node.identity, latest, (m) => removeOwnerRefsPatch(m, action.uids));
        return;
      case 'delete':
        if (action.unblockFirst) await this.patchWithRetry(info, node.identity, latest, (m) => unblockOwnerRefsPatch(m));
        await this.deleteObject(info, node.identity, action.policy);
        return;
    }
  }

  /** Is the owner a reference names alive at the coordinates the dependent implies? */
  private async classify(ref: V1OwnerReference, dependent: Identity): Promise<OwnerState> {
    if (ref.uid === dependent.uid) return 'solid'; // a self-reference never makes an object garbage
    const apiVersion = str(ref.apiVersion);
    const kind = str(ref.kind);
    const name = str(ref.name);
    if (!apiVersion || !kind || !name) {
      this.reportOnce(`malformed:${dependent.uid}:${ref.uid}`, 'ownerReference lacks apiVersion, kind or name; not deleting on it', dependent);
      return 'unresolvable';
    }
    const info = this.mapper.forKind(apiVersion, kind);
    if (!info) {
      this.reportOnce(`unknown:${dependent.uid}:${ref.uid}`, `ownerReference names an unknown kind ${kind} in ${apiVersion}; not deleting on it`, dependent);
      return 'unresolvable';
    }
    if (info.namespaced && !dependent.namespace) {
      // Cluster-scoped objects cannot have namespaced owners (upstream: unresolvable, reported, never collected).
      this.reportInvalidNamespace(dependent, ref);
      return 'unresolvable';
    }
    const ns = info.namespaced ? dependent.namespace : '';
    const key = absentKey(info.group, info.kind, ns, name, ref.uid);
    if (this.absent.has(key)) return 'dangling';
    const cached = this.informers.get(`${info.group}/${info.resource}`)?.store.getByName(ns || undefined, name);
    let owner = cached?.metadata?.uid === ref.uid ? cached : undefined;
    if (!owner) {
      // The cache may lag: only a live read may call an owner gone.
      const live = await this.getObject(info, ns, name);
      if (!live || live.metadata?.uid !== ref.uid) {
        this.absent.add(key);
        return 'dangling';
      }
      owner = live;
    }
    const om = owner.metadata as MetaLike;
    return isBeingDeleted(om) && hasFinalizer(om, FINALIZER_FOREGROUND) ? 'waiting' : 'solid';
  }

  /** A virtual owner: look it up once for all its dependents; gone means they are re-checked. */
  private async verifyVirtual(node: GraphNode): Promise<void> {
    const id = node.identity;
    const info = this.mapper.forKind(id.apiVersion, id.kind);
    if (!info || (info.namespaced && !id.namespace)) {
      // Nothing to look up; its dependents find the reference unresolvable. Say so once per dependent.
      for (const dep of node.dependents) {
        const ref = dep.owners.find((r) => r.uid === id.uid);
        if (!ref) continue;
        if (!info) this.reportOnce(`unknown:${dep.identity.uid}:${id.uid}`, `ownerReference names an unknown kind ${id.kind} in ${id.apiVersion}; not deleting on it`, dep.identity);
        else if (!dep.identity.namespace) this.reportInvalidNamespace(dep.identity, ref);
      }
      return;
    }
    const ns = info.namespaced ? id.namespace : '';
    const key = absentKey(info.group, info.kind, ns, id.name, id.uid);
    let gone = this.absent.has(key);
    if (!gone) {
      const live = await this.getObject(info, ns, id.name);
      gone = !live || live.metadata?.uid !== id.uid;
      if (gone) this.absent.add(key);
    }
    // Present: its informer reports it soon and the node becomes a real one.
    if (gone) this.apply(this.graph.verifiedAbsent(id.uid));
  }

  /** Foreground deletion: wait for blocking dependents (nudging them), then remove the owner's finalizer. */
  private async processDeletingDependents(node: GraphNode, info: ResourceInfo, latest: Obj): Promise<void> {
    const blocking = this.graph.blockingDependents(node.identity.uid);
    if (blocking.length === 0) {
      if (await this.patchWithRetry(info, node.identity, latest, (m) => removeFinalizerPatch(m, FINALIZER_FOREGROUND))) this.stats.finalizersRemoved++;
      return;
    }
    for (const dep of blocking) if (!dep.deletingDependents) this.attemptToDelete.add(dep.identity.uid);
  }

  // ---- attemptToOrphan ----

  private async attemptToOrphanItem(uid: string): Promise<void> {
    const node = this.graph.get(uid);
    if (!node || node.virtual) return;
    // Dependents are patched in parallel (as upstream's goroutine per dependent), a bounded number at a time.
    const deps = [...node.dependents].filter((d) => !d.virtual);
    let next = 0;
    let failure: unknown;
    await Promise.all(Array.from({ length: Math.min(ORPHAN_PARALLELISM, deps.length) }, async () => {
      while (next < deps.length) {
        const dep = deps[next++]!;
        const depInfo = this.mapper.forKind(dep.identity.apiVersion, dep.identity.kind);
        if (!depInfo) continue;
        try {
          await this.patchWithRetry(depInfo, dep.identity, undefined, (m) => removeOwnerRefsPatch(m, [uid]));
        } catch (err) {
          failure ??= err; // the others still get their patch; the item is retried as a whole
        }
      }
    }));
    if (failure) throw failure;
    const info = this.mapper.forKind(node.identity.apiVersion, node.identity.kind);
    if (!info) return;
    if (await this.patchWithRetry(info, node.identity, undefined, (m) => removeFinalizerPatch(m, FINALIZER_ORPHAN))) this.stats.finalizersRemoved++;
  }

  // ---- API calls ----

  private async getObject(info: ResourceInfo, namespace: string, name: string): Promise<Obj | null> {
    this.stats.lookups++;
    try {
      return await this.ctx.client.get<Obj>({ ...refOf(info), namespace: info.namespaced ? namespace : undefined, name }, { signal: this.ctx.signal });
    } catch (err) {
      if (isCode(err, 404)) return null;
      throw err;
    }
  }

  /**
   * Merge-patch an object with a patch made from its latest metadata (conditional on resourceVersion and uid); on a
   * conflict re-read and try again. Returns whether a patch was applied (false: object gone or nothing to change).
   */
  private async patchWithRetry(info: ResourceInfo, id: Identity, latest: Obj | undefined,
    make: (meta: MetaLike & { resourceVersion?: string }) => object | undefined): Promise<boolean> {
    let current = latest;
    for (let attempt = 0; attempt < MAX_CONFLICT_RETRIES; attempt++) {
      current ??= (await this.getObject(info, id.namespace, id.name)) ?? undefined;
      if (!current || current.metadata?.uid !== id.uid) return false;
      const body = make(current.metadata as MetaLike & { resourceVersion?: string });
      if (!body) return false;
      try {
        await this.ctx.client.patch({ ...refOf(info), namespace: info.namespaced ? id.namespace : undefined, name: id.name }, 'merge', body, { signal: this.ctx.signal });
        if ((body as { metadata?: { ownerReferences?: unknown } }).metadata?.ownerReferences !== undefined) this.stats.ownerRefPatches++;
        return true;
      } catch (err) {
        if (isCode(err, 404)) return false;
        if (!isCode(err, 409)) throw err;
        current = undefined;
      }
    }
    throw new Error(`${info.resource} ${id.namespace ? `${id.namespace}/` : ''}${id.name}: still conflicting after ${MAX_CONFLICT_RETRIES} attempts`);
  }

  private async deleteObject(info: ResourceInfo, id: Identity, policy: PropagationPolicy): Promise<void> {
    this.ctx.log('garbage collector: deleting object', { kind: id.kind, namespace: id.namespace, name: id.name, uid: id.uid, propagationPolicy: policy });
    try {
      await this.ctx.client.delete({ ...refOf(info), namespace: info.namespaced ? id.namespace : undefined, name: id.name },
        { propagationPolicy: policy, preconditions: { uid: id.uid }, signal: this.ctx.signal });
      this.stats.deletes++;
    } catch (err) {
      // Gone already, or the name now belongs to another object (uid precondition): nothing left to collect.
      if (isCode(err, 404) || isCode(err, 409)) return;
      throw err;
    }
  }

  // ---- reporting ----

  private reportOnce(key: string, message: string, about: Identity): void {
    if (this.reported.has(key)) return;
    if (this.reported.size > 10_000) this.reported.clear();
    this.reported.add(key);
    this.ctx.log(`garbage collector: ${message}`, { kind: about.kind, namespace: about.namespace, name: about.name, uid: about.uid });
  }

  private reportInvalidNamespace(dependent: Identity, ref: V1OwnerReference): void {
    const key = `ns:${dependent.uid}:${ref.uid}`;
    if (this.reported.has(key)) return;
    this.reportOnce(key, `ownerReference to ${str(ref.kind)} ${str(ref.name)} cannot be resolved in the dependent's namespace`, dependent);
    const message = dependent.namespace
      ? `ownerRef [${str(ref.apiVersion)}/${str(ref.kind)}, namespace: ${dependent.namespace}, name: ${str(ref.name)}, uid: ${ref.uid}] does not exist in namespace "${dependent.namespace}"`
      : `ownerRef [${str(ref.apiVersion)}/${str(ref.kind)}, name: ${str(ref.name)}, uid: ${ref.uid}] is namespaced; a cluster-scoped object cannot have a namespaced owner`;
    this.recorder.event({
      apiVersion: dependent.apiVersion, kind: dependent.kind,
      metadata: { name: dependent.name, namespace: dependent.namespace || undefined, uid: dependent.uid },
    }, 'Warning', 'OwnerRefInvalidNamespace', message);
  }
}

/** Per-item backoff from 5 ms to 5 minutes, and 10 retries per second overall. */
function gcRateLimiter() {
  return new MaxOfRateLimiter<string>(new ItemExponentialRateLimiter<string>(5, 300_000), new BucketRateLimiter<string>(10, 100));
}
