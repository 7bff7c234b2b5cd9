// An informer keeps a local Store in step with the server: list, then watch from the list's resourceVersion,
// resume from the last seen RV (bookmarks included) whenever the stream ends, relist on 410 Expired/Gone
// (HTTP 410 or an ERROR event with code 410), back off on errors and never stop until stop() is called.
// Handlers run synchronously, in event order, right after the store changed: keep them short (enqueue a key).
import type { KubernetesObject, V1Status } from '@kubernetes/client-node';
import { ApiError } from '../api/errors.ts';
import type { RestClient, ResourceRef } from './rest.ts';
import { statusToError } from './rest.ts';
import { Backoff, sleep } from './ratelimit.ts';
import { Store, keyOf } from './store.ts';
import type { IndexFunc } from './store.ts';
import { watch } from './watch.ts';
import type { WatchEvent } from './watch.ts';

export interface EventHandlers<T> {
  onAdd?(obj: T): void;
  /** Also called with old === new on a periodic resync (resyncMs). */
  onUpdate?(oldObj: T, newObj: T): void;
  /** The object's last state: from the DELETED event, or the cached copy when a relist found it gone. */
  onDelete?(obj: T): void;
}

export type InformerPhase = 'list' | 'watch' | 'handler';

export interface InformerOptions<T> {
  labelSelector?: string;
  fieldSelector?: string;
  /** Secondary indexes for the store, e.g. { node: (p) => [p.spec?.nodeName ?? ''] }. */
  indexers?: Record<string, IndexFunc<T>>;
  /** Call onUpdate(obj, obj) for every cached object this often (0/undefined = never). */
  resyncMs?: number;
  /** Page size for lists (default 500). */
  pageSize?: number;
  /** Each watch asks the server to end after a random time in [min, max) seconds (default 300..600). */
  watchTimeoutSeconds?: [number, number];
  /**
   * A watch that has not ended this long after its timeoutSeconds is presumed dead (a peer gone without a
   * FIN or RST) and is closed and resumed. Default 30 000 ms.
   */
  watchGraceMs?: number;
  /** Backoff after errors (default 800 ms doubling to 30 s). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Told about every error the informer recovers from (default: one line on stderr). */
  onError?(err: unknown, phase: InformerPhase): void;
}

export class Informer<T extends KubernetesObject> {
  readonly store: Store<T>;
  private readonly client: RestClient;
  private readonly ref: ResourceRef;
  private readonly opts: InformerOptions<T>;
  private readonly handlers = new Set<EventHandlers<T>>();
  private readonly backoff: Backoff;
  private rv = '';
  /** A watch delivered events or ended normally since the last list (tells a routine 410 from a broken server). */
  private watchedSinceList = false;
  private synced = false;
  private syncWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private abort?: AbortController;
  private loop?: Promise<void>;
  private resyncTimer?: NodeJS.Timeout;
  /** Counters, for tests and metrics. */
  readonly stats = { lists: 0, watches: 0, events: 0, relistsOn410: 0, errors: 0, watchdogCloses: 0 };

  constructor(client: RestClient, ref: ResourceRef, opts: InformerOptions<T> = {}) {
    if (ref.name || ref.subresource) throw new Error('Informer: ref names a collection; use fieldSelector metadata.name=<n> for one object');
    this.client = client;
    this.ref = ref;
    this.opts = opts;
    this.store = new Store<T>(opts.indexers);
    this.backoff = new Backoff(opts.backoffBaseMs ?? 800, opts.backoffMaxMs ?? 30_000);
  }

  /** Register handlers; if the cache is already filled, onAdd is replayed for every object. Returns an unregister function. */
  addEventHandler(h: EventHandlers<T>): () => void {
    this.handlers.add(h);
    if (this.synced && h.onAdd) for (const obj of this.store.list()) this.call(() => h.onAdd!(obj));
    return () => this.handlers.delete(h);
  }

  /** Begin list+watch in the background (idempotent). */
  start(): void {
    if (this.loop) return;
    this.abort = new AbortController();
    this.loop = this.run(this.abort.signal);
    if (this.opts.resyncMs && this.opts.resyncMs > 0) {
      this.resyncTimer = setInterval(() => this.resync(), this.opts.resyncMs);
      this.resyncTimer.unref();
    }
  }

  /** Stop watching and wait for the loop to end. The store keeps its contents. */
  async stop(): Promise<void> {
    if (!this.loop) return;
    clearInterval(this.resyncTimer);
    this.abort!.abort(new Error('informer stopped'));
    await this.loop;
    this.loop = undefined;
    const waiters = this.syncWaiters;
    this.syncWaiters = [];
    for (const w of waiters) w.reject(new Error(`informer for ${this.ref.resource} stopped before it synced`));
  }

  /** True once the first list has been stored and its onAdd handlers called. */
  hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.synced) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject };
      this.syncWaiters.push(waiter);
      signal?.addEventListener('abort', () => {
        this.syncWaiters = this.syncWaiters.filter((w) => w !== waiter);
        reject(signal.reason);
      }, { once: true });
    });
  }

  /** The resourceVersion the next watch resumes from. */
  get lastSyncResourceVersion(): string {
    return this.rv;
  }

  private async run(signal: AbortSignal): Promise<void> {
    let needList = true;
    while (!signal.aborted) {
      let phase: InformerPhase = needList ? 'list' : 'watch';
      try {
        if (needList) {
          await this.listAndReplace(signal);
          needList = false;
          phase = 'watch';
        }
        const { expired, events, ms } = await this.watchOnce(signal);
        if (expired) {
          needList = true;
          await this.afterExpired(signal);
          continue;
        }
        this.watchedSinceList = true;
        if (events === 0 && ms < 1000) {
          // The server keeps closing at once: do not spin.
          await sleep(this.backoff.next(), signal);
        } else {
          this.backoff.reset();
        }
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof ApiError && err.code === 410) {
          needList = true;
          try {
            await this.afterExpired(signal);
          } catch {
            break;
          }
          continue;
        }
        this.stats.errors++;
        this.report(err, phase);
        // A refusal from the server (403, 500 on the watch) may mean our state is off: relist. A broken
        // connection only needs the watch resumed from the last RV.
        if (phase === 'watch' && err instanceof ApiError && err.code !== 429) needList = true;
        try {
          await sleep(this.backoff.next(), signal);
        } catch {
          break;
        }
      }
    }
  }

  /**
   * A 410 is routine once; a 410 on a watch from the RV we just listed, before any event, means the server
   * cannot serve its own list RV: report it and back off instead of relisting in a hot loop.
   */
  private async afterExpired(signal: AbortSignal): Promise<void> {
    this.stats.relistsOn410++;
    if (this.watchedSinceList) return;
    this.stats.errors++;
    this.report(new Error(`watch ${this.ref.resource}: 410 Expired right after a list at resourceVersion ${this.rv}`), 'watch');
    await sleep(this.backoff.next(), signal);
  }

  private async listAndReplace(signal: AbortSignal): Promise<void> {
    this.stats.lists++;
    const list = await this.client.listAll<T>(this.ref, {
      labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector, pageSize: this.opts.pageSize, signal,
    });
    const rv = list.metadata?.resourceVersion;
    if (!rv) throw new Error(`list ${this.ref.resource}: the reply has no metadata.resourceVersion to watch from`);
    if (signal.aborted) return;
    const seen = new Set<string>();
    for (const obj of list.items ?? []) {
      const key = keyOf(obj);
      seen.add(key);
      const old = this.store.set(obj);
      if (!old) this.emit('add', obj);
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.emit('update', obj, old);
    }
    for (const key of this.store.keys()) {
      if (seen.has(key)) continue;
      const gone = this.store.delete(key)!;
      this.emit('delete', gone);
    }
    this.rv = rv;
    this.watchedSinceList = false;
    if (!this.synced) {
      this.synced = true;
      const waiters = this.syncWaiters;
      this.syncWaiters = [];
      for (const w of waiters) w.resolve();
    }
  }

  /** One watch from this.rv until the stream ends. expired = the server said 410 inside the stream. */
  private async watchOnce(signal: AbortSignal): Promise<{ expired: boolean; events: number; ms: number }> {
    this.stats.watches++;
    const [min, max] = this.opts.watchTimeoutSeconds ?? [300, 600];
    const started = performance.now();
    const timeoutSeconds = Math.floor(min + Math.random() * Math.max(0, max - min));
    const watchdog = new AbortController();
    const timer = setTimeout(() => watchdog.abort(new Error('watch outlived its timeoutSeconds')),
      timeoutSeconds * 1000 + (this.opts.watchGraceMs ?? 30_000));
    let events = 0;
    const stream = watch<T>(this.client, this.ref, {
      resourceVersion: this.rv, labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector,
      allowWatchBookmarks: true, timeoutSeconds, signal: AbortSignal.any([signal, watchdog.signal]),
    });
    try {
      for await (const ev of stream) {
        events++;
        this.stats.events++;
        if (ev.type === 'ERROR') {
          const status = ev.object as V1Status;
          if (status.code === 410) return { expired: true, events, ms: performance.now() - started };
          throw statusToError(status, status.code ?? 500, 'watch: ERROR event');
        }
        this.apply(ev as WatchEvent<T>);
        if (events === 1) this.backoff.reset();
      }
    } catch (err) {
      // Our own watchdog ended a silent stream: resume like after a normal close.
      if (!(watchdog.signal.aborted && !signal.aborted)) throw err;
      this.stats.watchdogCloses++;
    } finally {
      clearTimeout(timer);
    }
    return { expired: false, events, ms: performance.now() - started };
  }

  private apply(ev: WatchEvent<T>): void {
    this.watchedSinceList = true;
    const obj = ev.object;
    const rv = obj.metadata?.resourceVersion;
    if (ev.type === 'BOOKMARK') {
      if (rv) this.rv = rv;
      return;
    }
    let key: string;
    try {
      key = keyOf(obj);
    } catch {
      throw new Error(`watch ${this.ref.resource}: ${ev.type} event object has no metadata.name`);
    }
    if (ev.type === 'DELETED') {
      const old = this.store.delete(key);
      this.emit('delete', obj, old);
    } else {
      const old = this.store.set(obj);
      if (old) this.emit('update', obj, old);
      else this.emit('add', obj);
    }
    if (rv) this.rv = rv;
  }

  private emit(what: 'add' | 'update' | 'delete', obj: T, old?: T): void {
    for (const h of this.handlers) {
      if (what === 'add' && h.onAdd) this.call(() => h.onAdd!(obj));
      else if (what === 'update' && h.onUpdate) this.call(() => h.onUpdate!(old!, obj));
      else if (what === 'delete' && h.onDelete) this.call(() => h.onDelete!(obj));
    }
  }

  private resync(): void {
    if (!this.synced) return;
    for (const obj of this.store.list()) this.emit('update', obj, obj);
  }

  /** A throwing handler must not break the informer or the other handlers. */
  private call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.report(err, 'handler');
    }
  }

  private report(err: unknown, phase: InformerPhase): void {
    if (this.opts.onError) {
      try {
        this.opts.onError(err, phase);
      } catch { /* the error reporter itself failed: nothing better to do */ }
      return;
    }
    const what = `${this.ref.group ? `${this.ref.resource}.${this.ref.group}` : this.ref.resource}`;
    console.error(`informer ${what}: ${phase} failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Start every informer and wait until all have synced (or the signal aborts). */
export async function startAndSync(informers: { start(): void; waitForSync(signal?: AbortSignal): Promise<void> }[], signal?: AbortSignal): Promise<void> {
  for (const i of informers) i.start();
  await Promise.all(informers.map((i) => i.waitForSync(signal)));
}
