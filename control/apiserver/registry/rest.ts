// The generic REST behaviour every resource shares, driven by its strategy: create, guaranteed update (PUT, PATCH,
// status, scale), graceful and finalizer-aware delete, lists from etcd or the watch cache, and filtered watches.
import { cause, errors, type Cause } from '../../../api/errors.ts';
import { generateName, newUid, rfc3339 } from '../../../api/meta.ts';
import { parseFieldSelector, parseLabelSelector, type FieldSelector, type LabelSelector } from '../../../api/selectors.ts';
import { validateObjectMeta } from '../../../api/validation.ts';
import type { EtcdStore, KubeObject, StoredItem } from '../storage/etcd-store.ts';
import { WatchCache, type CacheEvent, type WatchEventType } from '../storage/watch-cache.ts';
import { isObject } from './common.ts';
import { etcdPrefixOf } from './index.ts';
import { groupVersion, type Allocators, type Obj, type Strategy, type WriteContext } from './types.ts';

export interface WriteOptions { dryRun?: boolean }
export interface ListOptions {
  labelSelector?: string; fieldSelector?: string; limit?: number; continue?: string;
  resourceVersion?: string; resourceVersionMatch?: string;
}
export interface DeleteOptions {
  gracePeriodSeconds?: number; propagationPolicy?: string; orphanDependents?: boolean; dryRun?: boolean;
  preconditions?: { uid?: string; resourceVersion?: string };
}
export interface ListResult { items: KubeObject[]; resourceVersion: string; continue?: string; remainingItemCount?: number }
export interface WatchEvent { type: WatchEventType; object: KubeObject; rv: number }

const maxUpdateRetries = 20;

function clone<T>(o: T): T { return structuredClone(o); }

function encodeContinue(rv: number, start: string): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start })).toString('base64url');
}
function decodeContinue(token: string, prefix: string): { rv: number; start: string } {
  try {
    const c = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (c?.v === 'meta.k8s.io/v1' && Number.isInteger(c.rv) && c.rv > 0 && typeof c.start === 'string' && c.start.startsWith(prefix)) return c;
  } catch { /* fall through */ }
  throw errors.badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
}

/** The finalizers the garbage collector honours (metav1.FinalizerOrphanDependents, FinalizerDeleteDependents). */
export const FINALIZER_ORPHAN = 'orphan';
export const FINALIZER_FOREGROUND = 'foregroundDeletion';

/**
 * An object's finalizers after a DELETE with this propagation policy (upstream deletionFinalizersForGarbageCollection):
 * Orphan asks the garbage collector to orphan the dependents first, Foreground to delete them first, Background neither;
 * without a policy a GC finalizer already on the object stands. Every resource here defaults to Background (upstream's
 * apps/v1 and core default), so no per-resource default is needed.
 */
export function gcFinalizers(current: unknown[], policy: string | undefined): string[] {
  const has = (f: string) => current.includes(f);
  const orphan = policy === 'Orphan' || (policy === undefined && has(FINALIZER_ORPHAN) && !has(FINALIZER_FOREGROUND));
  const foreground = policy === 'Foreground' || (policy === undefined && has(FINALIZER_FOREGROUND) && !has(FINALIZER_ORPHAN));
  const out = current.filter((f) => f !== FINALIZER_ORPHAN && f !== FINALIZER_FOREGROUND) as string[];
  if (orphan) out.push(FINALIZER_ORPHAN);
  if (foreground) out.push(FINALIZER_FOREGROUND);
  return out;
}

/** A compiled selector pair plus the strategy's field labels. */
export interface Selection { label: LabelSelector; field: FieldSelector; matches(o: KubeObject): boolean; empty: boolean }

export class ResourceStore {
  readonly strategy: Strategy;
  readonly prefix: string;
  readonly cache: WatchCache;
  private readonly store: EtcdStore;
  private readonly registry: Registry;

  constructor(strategy: Strategy, store: EtcdStore, registry: Registry, cacheSize?: number) {
    this.strategy = strategy;
    this.store = store;
    this.registry = registry;
    this.prefix = etcdPrefixOf(strategy);
    this.cache = new WatchCache(store, this.prefix, cacheSize);
  }

  get gvk() { return { group: this.strategy.group, version: this.strategy.version, kind: this.strategy.kind }; }
  get apiVersion(): string { return groupVersion(this.strategy); }
  private get qualified(): string { return this.strategy.group ? `${this.strategy.resource}.${this.strategy.group}` : this.strategy.resource; }

  key(ns: string | undefined, name: string): string {
    return this.strategy.namespaced ? `${this.prefix}${ns}/${name}` : `${this.prefix}${name}`;
  }
  private scopePrefix(ns: string | undefined): string {
    return this.strategy.namespaced && ns ? `${this.prefix}${ns}/` : this.prefix;
  }

  fieldsOf(o: KubeObject): Record<string, string> {
    const md = o.metadata ?? {};
    const base: Record<string, string> = { 'metadata.name': md.name ?? '' };
    if (this.strategy.namespaced) base['metadata.namespace'] = md.namespace ?? '';
    return { ...base, ...(this.strategy.fieldLabels?.(o) ?? {}) };
  }

  selection(labelSelector?: string, fieldSelector?: string): Selection {
    const label = parseLabelSelector(labelSelector);
    const field = parseFieldSelector(fieldSelector);
    const known = Object.keys(this.fieldsOf({ metadata: {} }));
    for (const r of field.requirements) {
      if (!known.includes(r.field)) {
        throw errors.badRequest(`"${r.field}" is not a known field selector: only ${known.map((k) => `"${k}"`).join(', ')}`);
      }
    }
    return {
      label, field, empty: label.empty && field.empty,
      matches: (o) => label.matches(o.metadata?.labels as Record<string, string> | undefined) && field.matches(this.fieldsOf(o)),
    };
  }

  private notFound(name: string) { return errors.notFound(this.strategy.resource, name, this.strategy.group); }

  async get(ns: string | undefined, name: string): Promise<KubeObject> {
    const item = await this.store.get(this.key(ns, name));
    if (!item) throw this.notFound(name);
    return item.obj;
  }

  async list(ns: string | undefined, opts: ListOptions): Promise<ListResult> {
    const sel = this.selection(opts.labelSelector, opts.fieldSelector);
    const scope = this.scopePrefix(ns);
    const limit = opts.limit && opts.limit > 0 ? Math.floor(opts.limit) : 0;
    const rvText = opts.resourceVersion;
    if (rvText !== undefined && rvText !== '' && !/^\d+$/.test(rvText)) throw errors.badRequest(`invalid resource version "${rvText}"`);
    const match = opts.resourceVersionMatch;
    if (match && !['Exact', 'NotOlderThan'].includes(match)) throw errors.badRequest(`resourceVersionMatch: Unsupported value: "${match}": supported values: "Exact", "NotOlderThan"`);
    if (match && !rvText) throw errors.badRequest('resourceVersionMatch is forbidden unless resourceVersion is provided');
    if (opts.continue && rvText && rvText !== '0') throw errors.badRequest('specifying resource version is not allowed when using continue');
    // Served from the watch cache: "any" (0) or not-older-than N without paging.
    if (!opts.continue && rvText && (rvText === '0' || match === 'NotOlderThan' || (!match && !limit))) {
      const rv = Number(rvText);
      if (rv > 0) await this.cache.waitFor(rv);
      const items = this.cache.list((o) => (!ns || !this.strategy.namespaced || o.metadata?.namespace === ns) && sel.matches(o)).map((i) => i.obj);
      return { items, resourceVersion: String(this.cache.revision) };
    }
    // Consistent (or exact-revision) read from etcd, paged.
    let from: string | undefined;
    let revision = match === 'Exact' || (rvText && rvText !== '0') ? Number(rvText) : 0;
    if (opts.continue) {
      const c = decodeContinue(opts.continue, scope);
      from = c.start;
      revision = c.rv;
    }
    let res;
    try {
      res = await this.store.list(scope, { from, revision, limit, filter: sel.empty ? undefined : (o) => sel.matches(o) });
    } catch (err) {
      // upstream answers 504 here; a revision from the future is the client's mistake, and no input may be a 5xx
      if (err instanceof Error && /future revision/i.test(err.message)) throw errors.badRequest(`Too large resource version: ${revision}, current: ${this.cache.revision}`);
      if (err instanceof Error && /compacted/i.test(err.message) && !opts.continue) throw errors.expired(`too old resource version: ${revision}`);
      throw err;
    }
    const out: ListResult = { items: res.items.map((i) => i.obj), resourceVersion: String(res.revision) };
    if (res.more && res.nextKey) out.continue = encodeContinue(res.revision, res.nextKey);
    return out;
  }

  /**
   * Watches from resourceVersion (undefined/"0": current state first). Events that leave or enter the selection
   * become DELETED/ADDED like upstream. Throws Expired when too old.
   */
  watch(ns: string | undefined, opts: { labelSelector?: string; fieldSelector?: string; resourceVersion?: string },
    send: (e: WatchEvent) => void, onClose?: () => void): () => void {
    const sel = this.selection(opts.labelSelector, opts.fieldSelector);
    const rvText = opts.resourceVersion;
    if (rvText !== undefined && rvText !== '' && !/^\d+$/.test(rvText)) throw errors.badRequest(`invalid resource version "${rvText}"`);
    const scope = this.scopePrefix(ns);
    const all = scope === this.prefix;
    const fromRv = rvText ? Number(rvText) : 0;
    const listener = (e: CacheEvent) => {
      // the list this watch continues may be newer than the cache: skip what the client has already seen
      if (fromRv && e.rv <= fromRv) return;
      if (!all && !e.key.startsWith(scope)) return;
      if (sel.empty) { send({ type: e.type, object: e.obj, rv: e.rv }); return; }
      const now = sel.matches(e.obj);
      if (e.type === 'MODIFIED' && e.prev) {
        const before = sel.matches(e.prev);
        if (now && before) send({ type: 'MODIFIED', object: e.obj, rv: e.rv });
        else if (now) send({ type: 'ADDED', object: e.obj, rv: e.rv });
        else if (before) send({ type: 'DELETED', object: e.obj, rv: e.rv });
      } else if (now) send({ type: e.type, object: e.obj, rv: e.rv });
    };
    return this.cache.watch(rvText ? Number(rvText) : undefined, listener, onClose);
  }

  // ---- writes ----

  private context(dryRun: boolean): WriteContext {
    return { now: Date.now(), dryRun, allocators: this.registry.allocators };
  }

  private checkIdentity(body: unknown, ns: string | undefined, name?: string): Obj {
    if (!isObject(body)) throw errors.badRequest(`the body of the request must be a JSON or YAML object describing a ${this.strategy.kind}`);
    const s = this.strategy;
    if (body.kind !== undefined && body.kind !== '' && body.kind !== s.kind) {
      throw errors.badRequest(`the kind "${String(body.kind)}" of the object does not match the kind of the request "${s.kind}"`);
    }
    if (body.apiVersion !== undefined && body.apiVersion !== '' && body.apiVersion !== this.apiVersion) {
      throw errors.badRequest(`the API version "${String(body.apiVersion)}" of the object does not match the API version of the request "${this.apiVersion}"`);
    }
    if (body.metadata === undefined || body.metadata === null) body.metadata = {};
    if (!isObject(body.metadata)) throw errors.badRequest('metadata: must be an object');
    const md = body.metadata;
    if (s.namespaced) {
      if (md.namespace === undefined || md.namespace === '') md.namespace = ns;
      else if (md.namespace !== ns) throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
    } else delete md.namespace;
    if (name !== undefined) {
      if (md.name === undefined || md.name === '') md.name = name;
      else if (md.name !== name) throw errors.badRequest(`the name of the object (${String(md.name)}) does not match the name on the URL (${name})`);
    }
    body.apiVersion = this.apiVersion;
    body.kind = s.kind;
    return body;
  }

  private validate(obj: Obj, old?: Obj): void {
    const causes: Cause[] = [
      ...validateObjectMeta(obj.metadata, { namespaced: this.strategy.namespaced, validateName: this.strategy.validateName }),
      ...(this.strategy.validate?.(obj, old) ?? []),
    ];
    if (Array.isArray(obj.metadata?.finalizers)) {
      obj.metadata.finalizers.forEach((f: unknown, i: number) => {
        if (typeof f !== 'string' || !f) causes.push(cause.invalid(`metadata.finalizers[${i}]`, f, 'must be a non-empty string'));
      });
    } else if (obj.metadata?.finalizers !== undefined && obj.metadata?.finalizers !== null) {
      causes.push(cause.invalid('metadata.finalizers', obj.metadata.finalizers, 'must be a list of strings'));
    }
    if (causes.length) throw errors.invalid(this.strategy.kind, String(obj.metadata?.name ?? obj.metadata?.generateName ?? ''), causes, this.strategy.group);
  }

  async create(ns: string | undefined, body: unknown, opts: WriteOptions = {}): Promise<KubeObject> {
    const obj = this.checkIdentity(body, ns);
    const md = obj.metadata;
    const s = this.strategy;
    if ((md.name === undefined || md.name === '') && typeof md.generateName === 'string' && md.generateName) md.name = generateName(md.generateName);
    const now = Date.now();
    md.uid = newUid();
    md.creationTimestamp = rfc3339(now);
    for (const f of ['resourceVersion', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'selfLink']) delete md[f];
    if (s.tracksGeneration) md.generation = 1; else delete md.generation;
    const ctx = this.context(Boolean(opts.dryRun));
    s.defaults?.(obj);
    // validate before allocating so bad input never reserves addresses
    this.validate(obj);
    if (s.namespaced) await this.registry.requireNamespace(ns!);
    if (s.resource === 'pods') this.registry.admitPodPriority(obj);
    s.prepareForCreate?.(obj, ctx);
    if (opts.dryRun) {
      if (await this.store.get(this.key(ns, md.name))) throw errors.alreadyExists(s.resource, md.name, s.group);
      return obj;
    }
    let rv: number | null;
    try {
      rv = await this.store.create(this.key(ns, md.name), obj);
    } catch (err) {
      s.afterDelete?.(obj, ctx);
      throw err;
    }
    if (rv === null) {
      s.afterDelete?.(obj, ctx);
      throw errors.alreadyExists(s.resource, md.name, s.group);
    }
    md.resourceVersion = String(rv);
    return obj;
  }

  /**
   * Read-modify-write with retries on write races. tryUpdate gets the current object (null if absent) and returns the
   * desired one; a metadata.resourceVersion it carries is a precondition (409 on mismatch). Returns the stored object
   * and whether it was created.
   */
  async guaranteedUpdate(ns: string | undefined, name: string, tryUpdate: (current: KubeObject | null) => unknown | Promise<unknown>,
    opts: WriteOptions & { subresource?: 'status' | 'internal'; allowCreate?: boolean } = {}): Promise<{ obj: KubeObject; created: boolean }> {
    const s = this.strategy;
    const key = this.key(ns, name);
    for (let attempt = 0; attempt < maxUpdateRetries; attempt++) {
      const current = await this.store.get(key);
      if (!current && !opts.allowCreate) throw this.notFound(name);
      const desired = await tryUpdate(current ? clone(current.obj) : null);
      if (!current) {
        const body = this.checkIdentity(desired, ns, name);
        if (body.metadata.resourceVersion) throw this.notFound(name);
        try {
          return { obj: await this.create(ns, body, opts), created: true };
        } catch (err) {
          if (err instanceof Error && (err as { reason?: string }).reason === 'AlreadyExists') continue;
          throw err;
        }
      }
      const next = this.prepareUpdate(desired, current, ns, name, opts);
      if (next === current.obj) return { obj: current.obj, created: false };
      if (opts.dryRun) return { obj: next, created: false };
      const rv = await this.store.update(key, next, current.rv);
      if (rv === null) continue; // someone else wrote in between: re-read and re-apply
      next.metadata.resourceVersion = String(rv);
      if (next.metadata.deletionTimestamp && !(next.metadata.finalizers ?? []).length && !(next.metadata.deletionGracePeriodSeconds > 0)) {
        // the last finalizer is gone from an object being deleted: finish the deletion
        const gone = await this.store.delete(key, rv);
        if (gone !== null) s.afterDelete?.(next, this.context(false));
      }
      return { obj: next, created: false };
    }
    throw errors.conflict(s.resource, name, 'too many concurrent updates, please retry', s.group);
  }

  /** Applies update rules; returns current.obj itself when nothing would change. */
  private prepareUpdate(desired: unknown, current: StoredItem, ns: string | undefined, name: string, opts: WriteOptions & { subresource?: 'status' | 'internal' }): Obj {
    const s = this.strategy;
    const old = current.obj as Obj;
    const body = this.checkIdentity(desired, ns, name);
    const wantRv = body.metadata.resourceVersion;
    if (wantRv !== undefined && wantRv !== '' && String(wantRv) !== String(current.rv)) throw errors.staleResourceVersion(s.resource, name, s.group);
    if (body.metadata.uid && body.metadata.uid !== old.metadata.uid) {
      throw errors.conflict(s.resource, name, `Precondition failed: UID in precondition: ${body.metadata.uid}, UID in object meta: ${old.metadata.uid}`, s.group);
    }
    let next: Obj;
    if (opts.subresource === 'status') {
      next = clone(old);
      next.status = body.status;
    } else {
      next = body;
      // 'internal' writes (binding) come from the server itself and may set server-owned fields
      if (s.hasStatus && opts.subresource !== 'internal') next.status = clone(old.status);
    }
    const md = next.metadata;
    for (const f of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation']) {
      if (old.metadata[f] === undefined) delete md[f]; else md[f] = old.metadata[f];
    }
    delete md.selfLink;
    md.resourceVersion = String(current.rv);
    const ctx = this.context(Boolean(opts.dryRun));
    if (opts.subresource === undefined) {
      s.defaults?.(next);
      s.prepareForUpdate?.(next, old, ctx);
      if (s.tracksGeneration && JSON.stringify(next.spec) !== JSON.stringify(old.spec)) md.generation = (old.metadata.generation ?? 0) + 1;
      this.validate(next, old);
    } else if (opts.subresource === 'status' && next.status !== undefined && next.status !== null && !isObject(next.status)) {
      throw errors.invalid(s.kind, name, [cause.invalid('status', next.status, 'must be an object')], s.group);
    }
    if (JSON.stringify(next) === JSON.stringify(old)) return old;
    return next;
  }

  /** PUT: body replaces the object (or its status). decorate may add bookkeeping (managedFields) given the current object. */
  async update(ns: string | undefined, name: string, body: unknown, opts: WriteOptions & { subresource?: 'status' } = {},
    decorate: (current: KubeObject | null) => unknown = () => body) {
    const allowCreate = opts.subresource !== 'status' && ['endpoints', 'events', 'leases', 'endpointslices'].includes(this.strategy.resource);
    return this.guaranteedUpdate(ns, name, (current) => clone(decorate(current)), { ...opts, allowCreate });
  }

  async delete(ns: string | undefined, name: string, opts: DeleteOptions = {}): Promise<{ obj: KubeObject; pending: boolean }> {
    const s = this.strategy;
    const key = this.key(ns, name);
    if (opts.propagationPolicy !== undefined && !['Orphan', 'Background', 'Foreground'].includes(opts.propagationPolicy)) {
      throw errors.invalid('DeleteOptions', '', [cause.notSupported('propagationPolicy', opts.propagationPolicy, ['Foreground', 'Background', 'Orphan', 'nil'])]);
    }
    if (opts.gracePeriodSeconds !== undefined && (!Number.isInteger(opts.gracePeriodSeconds))) {
      throw errors.badRequest(`gracePeriodSeconds: Invalid value: ${JSON.stringify(opts.gracePeriodSeconds)}: must be an integer`);
    }
    for (let attempt = 0; attempt < maxUpdateRetries; attempt++) {
      const current = await this.store.get(key);
      if (!current) throw this.notFound(name);
      const obj = current.obj as Obj;
      if (s.resource === 'namespaces' && !opts.dryRun) return this.registry.terminateNamespace(current);
      const pre = opts.preconditions ?? {};
      if (pre.uid && pre.uid !== obj.metadata.uid) {
        throw errors.conflict(s.resource, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${obj.metadata.uid}`, s.group);
      }
      if (pre.resourceVersion && pre.resourceVersion !== String(current.rv)) {
        throw errors.conflict(s.resource, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.rv}`, s.group);
      }
      let grace = 0;
      if (s.resource === 'pods') {
        const requested = opts.gracePeriodSeconds ?? obj.spec?.terminationGracePeriodSeconds ?? 30;
        grace = Math.max(0, requested);
        const phase = obj.status?.phase;
        if (!obj.spec?.nodeName || phase === 'Succeeded' || phase === 'Failed') grace = 0;
      }
      const next = clone(obj);
      const md = next.metadata;
      const pendingGrace = md.deletionTimestamp && md.deletionGracePeriodSeconds > 0 && grace < md.deletionGracePeriodSeconds;
      // a graceful deletion under way may only be shortened; its finalizers are no longer changed by DeleteOptions
      if (md.deletionTimestamp && md.deletionGracePeriodSeconds > 0 && !pendingGrace) return { obj, pending: true };
      // an object already waiting on finalizers keeps its deletionTimestamp; only the finalizers may change
      if (md.deletionTimestamp && !pendingGrace) grace = 0;
      const hadFinalizers = Array.isArray(md.finalizers);
      const finalizers = gcFinalizers(hadFinalizers ? md.finalizers : [], opts.propagationPolicy);
      if (finalizers.length || grace > 0) {
        if (!md.deletionTimestamp || pendingGrace) {
          md.deletionTimestamp = rfc3339(Date.now() + grace * 1000);
          md.deletionGracePeriodSeconds = grace;
        }
        if (finalizers.length || hadFinalizers) md.finalizers = finalizers;
        if (JSON.stringify(next) === JSON.stringify(obj)) return { obj, pending: true };
        if (opts.dryRun) return { obj: next, pending: true };
        const rv = await this.store.update(key, next, current.rv);
        if (rv === null) continue;
        md.resourceVersion = String(rv);
        return { obj: next, pending: true };
      }
      if (opts.dryRun) return { obj, pending: false };
      const rv = await this.store.delete(key, current.rv);
      if (rv === null) continue;
      s.afterDelete?.(obj, this.context(false));
      return { obj, pending: false };
    }
    throw errors.conflict(s.resource, name, 'too many concurrent updates, please retry', s.group);
  }

  async deleteCollection(ns: string | undefined, listOpts: ListOptions, opts: DeleteOptions): Promise<KubeObject[]> {
    const { items } = await this.list(ns, { labelSelector: listOpts.labelSelector, fieldSelector: listOpts.fieldSelector });
    const out: KubeObject[] = [];
    for (const item of items) {
      try {
        out.push((await this.delete(item.metadata?.namespace, item.metadata!.name!, opts)).obj);
      } catch (err) {
        if (!(err instanceof Error && (err as { code?: number }).code === 404)) throw err;
      }
    }
    return out;
  }
}

/** All resources over one etcd, plus the bits that cut across them (namespace existence, allocators). */
export class Registry {
  readonly resources = new Map<string, ResourceStore>();
  readonly store: EtcdStore;
  allocators: Allocators = { allocateService() {}, releaseService() {} };

  constructor(store: EtcdStore, strategies: Strategy[], cacheSize?: number) {
    this.store = store;
    for (const s of strategies) this.resources.set(`${s.group}/${s.resource}`, new ResourceStore(s, store, this, cacheSize));
  }

  get(group: string, resource: string): ResourceStore | undefined {
    return this.resources.get(`${group}/${resource}`);
  }

  mustGet(group: string, resource: string): ResourceStore {
    const r = this.get(group, resource);
    if (!r) throw new Error(`no resource ${group}/${resource}`);
    return r;
  }

  async start(onError: (err: Error) => void): Promise<void> {
    await Promise.all([...this.resources.values()].map((r) => r.cache.start(onError)));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.resources.values()].map((r) => r.cache.stop()));
  }

  /**
   * Namespace deletion: mark it Terminating (no new content), then empty it in the background and remove it.
   * This stands in for upstream's namespace controller (spec.finalizers "kubernetes" + /finalize) until one exists.
   */
  async terminateNamespace(current: StoredItem): Promise<{ obj: KubeObject; pending: boolean }> {
    const ns = current.obj as Obj;
    const name = ns.metadata.name as string;
    if (['default', 'kube-system', 'kube-public'].includes(name)) {
      throw errors.forbidden(`namespaces "${name}" is forbidden: this namespace may not be deleted`, { kind: 'namespaces', name });
    }
    if (!ns.metadata.deletionTimestamp) {
      const next = clone(ns);
      next.metadata.deletionTimestamp = rfc3339();
      next.metadata.deletionGracePeriodSeconds = 0;
      next.status = { ...(next.status ?? {}), phase: 'Terminating' };
      const rv = await this.store.update(current.key, next, current.rv);
      if (rv === null) throw errors.conflict('namespaces', name, 'the object has been modified; please apply your changes to the latest version and try again');
      next.metadata.resourceVersion = String(rv);
      void this.emptyNamespace(name).catch(() => {});
      return { obj: next, pending: true };
    }
    return { obj: ns, pending: true };
  }

  /** After a restart: finish deleting namespaces a previous apiserver had started to delete. */
  resumeNamespaceDeletions(): void {
    for (const item of this.mustGet('', 'namespaces').cache.list()) {
      const name = item.obj.metadata?.name;
      if (name && (item.obj as Obj).metadata?.deletionTimestamp) void this.emptyNamespace(name).catch(() => {});
    }
  }

  private async emptyNamespace(name: string): Promise<void> {
    const started = Date.now();
    for (;;) {
      let remaining = 0;
      const force = Date.now() - started > 60_000; // pods whose kubelet never confirms are removed after a minute
      for (const r of this.resources.values()) {
        if (!r.strategy.namespaced) continue;
        const { items } = await this.store.list(`${r.prefix}${name}/`);
        for (const item of items) {
          remaining++;
          try {
            // Background, as upstream's namespace deleter: a pending orphan/foreground finalizer must not keep the namespace
            await r.delete(name, item.obj.metadata!.name!, { propagationPolicy: 'Background', ...(force ? { gracePeriodSeconds: 0 } : {}) });
          } catch { /* gone already, or retried on the next pass */ }
        }
      }
      if (remaining === 0) break;
      await new Promise((res) => setTimeout(res, 1000));
    }
    const nsStore = this.mustGet('', 'namespaces');
    const cur = await this.store.get(nsStore.key(undefined, name));
    if (cur) await this.store.delete(cur.key, cur.rv);
  }

  /** Priority admission: spec.priority (and preemptionPolicy) from spec.priorityClassName or the global default class. */
  admitPodPriority(pod: Obj): void {
    if (!isObject(pod.spec)) return;
    const classes = this.mustGet('scheduling.k8s.io', 'priorityclasses').cache.list().map((i) => i.obj as Obj);
    const name = pod.spec.priorityClassName;
    let pc: Obj | undefined;
    if (typeof name === 'string' && name) {
      pc = classes.find((c) => c.metadata?.name === name);
      if (!pc) throw errors.forbidden(`pods "${pod.metadata?.name ?? ''}" is forbidden: no PriorityClass with name ${name} was found`, { kind: 'pods', name: pod.metadata?.name });
    } else {
      pc = classes.find((c) => c.globalDefault === true);
      if (pc) pod.spec.priorityClassName = pc.metadata.name;
    }
    const value = pc ? pc.value : 0;
    if (pod.spec.priority !== undefined && pod.spec.priority !== value && pod.spec.priority !== 0) {
      throw errors.forbidden(`pods "${pod.metadata?.name ?? ''}" is forbidden: the integer value of priority (${pod.spec.priority}) must not be provided in pod spec; priority admission controller computed ${value} from the given PriorityClass name`);
    }
    pod.spec.priority = value;
    if (pc?.preemptionPolicy) pod.spec.preemptionPolicy = pc.preemptionPolicy;
  }

  /** NamespaceLifecycle: objects may only be created in existing namespaces that are not terminating. */
  async requireNamespace(ns: string): Promise<void> {
    const nsStore = this.mustGet('', 'namespaces');
    let item = nsStore.cache.get(nsStore.key(undefined, ns));
    if (!item) item = (await this.store.get(nsStore.key(undefined, ns))) ?? undefined;
    if (!item) throw errors.notFound('namespaces', ns);
    if ((item.obj as Obj).metadata?.deletionTimestamp) {
      throw errors.forbidden(`unable to create new content in namespace ${ns} because it is being terminated`, { kind: 'namespaces', name: ns });
    }
  }
}
