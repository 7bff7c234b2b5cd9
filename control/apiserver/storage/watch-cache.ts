// One etcd watch per resource feeds this cache: the current objects plus a ring of recent events, so that
// N client watches cost one etcd watch and a watch can resume from any resourceVersion still in the ring.
import { errors } from '../../../api/errors.ts';
import type { EtcdStore, KubeObject, RawEvent, StoredItem } from './etcd-store.ts';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface CacheEvent {
  type: WatchEventType;
  key: string;
  rv: number;
  obj: KubeObject;
  /** The object before this event (for MODIFIED), so filtered watches can turn it into ADDED/DELETED. */
  prev?: KubeObject;
}

export type CacheListener = (e: CacheEvent) => void;

export class WatchCache {
  readonly prefix: string;
  private readonly store: EtcdStore;
  private readonly capacity: number;
  private readonly objects = new Map<string, StoredItem>();
  private ring: CacheEvent[] = [];
  private readonly listeners = new Map<CacheListener, () => void>();
  private onError: (err: Error) => void = () => {};
  private resyncing = false;
  private stopped = false;
  private stopWatch: (() => Promise<void>) | undefined;
  /** Every event with rv greater than this is still in the ring. */
  private oldestRv = 0;
  /** The newest revision this cache has caught up with. */
  revision = 0;
  private waiters: { rv: number; resolve: () => void }[] = [];

  constructor(store: EtcdStore, prefix: string, capacity = 5000) {
    this.store = store;
    this.prefix = prefix;
    this.capacity = capacity;
  }

  async start(onError: (err: Error) => void = () => {}): Promise<void> {
    this.onError = onError;
    const listed = await this.store.list(this.prefix);
    for (const item of listed.items) this.objects.set(item.key, item);
    this.revision = listed.revision;
    this.oldestRv = listed.revision;
    this.stopWatch = await this.store.watch(this.prefix, listed.revision + 1, (e) => this.apply(e), (err) => this.failed(err));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.stopWatch?.();
    this.listeners.clear();
  }

  // The etcd watch was cancelled (e.g. its revision got compacted while disconnected): list again, start over, and
  // end every client watch so clients resume (or get 410 and relist) against the fresh state.
  private failed(err: Error): void {
    this.onError(err);
    if (this.resyncing || this.stopped) return;
    this.resyncing = true;
    void (async () => {
      for (let delay = 200; !this.stopped; delay = Math.min(delay * 2, 5000)) {
        try {
          await this.stopWatch?.().catch(() => {});
          const listed = await this.store.list(this.prefix);
          this.objects.clear();
          for (const item of listed.items) this.objects.set(item.key, item);
          this.ring = [];
          this.revision = listed.revision;
          this.oldestRv = listed.revision;
          const closers = [...this.listeners.values()];
          this.listeners.clear();
          for (const close of closers) { try { close(); } catch { /* already gone */ } }
          this.stopWatch = await this.store.watch(this.prefix, listed.revision + 1, (e) => this.apply(e), (e) => this.failed(e));
          break;
        } catch (e) {
          this.onError(e as Error);
          await new Promise((r) => setTimeout(r, delay));
        }
      }
      this.resyncing = false;
    })();
  }

  private apply(raw: RawEvent): void {
    let ev: CacheEvent;
    const before = this.objects.get(raw.key);
    if (raw.type === 'put') {
      this.objects.set(raw.key, { key: raw.key, obj: raw.obj, rv: raw.rv });
      ev = before ? { type: 'MODIFIED', key: raw.key, rv: raw.rv, obj: raw.obj, prev: before.obj }
        : { type: 'ADDED', key: raw.key, rv: raw.rv, obj: raw.obj };
    } else {
      this.objects.delete(raw.key);
      ev = { type: 'DELETED', key: raw.key, rv: raw.rv, obj: raw.obj };
    }
    this.ring.push(ev);
    if (this.ring.length > this.capacity * 2) {
      const dropped = this.ring.splice(0, this.ring.length - this.capacity);
      this.oldestRv = dropped[dropped.length - 1]!.rv;
    }
    this.revision = Math.max(this.revision, raw.rv);
    for (const l of this.listeners.keys()) {
      try { l(ev); } catch { /* one broken watcher must not starve the others */ }
    }
    if (this.waiters.length) {
      this.waiters = this.waiters.filter((w) => (w.rv <= this.revision ? (w.resolve(), false) : true));
    }
  }

  /** Resolves once the cache has seen revision rv (or after timeoutMs, whichever first). */
  waitFor(rv: number, timeoutMs = 3000): Promise<void> {
    if (rv <= this.revision) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.waiters.push({ rv, resolve: () => { clearTimeout(timer); resolve(); } });
    });
  }

  get(key: string): StoredItem | undefined {
    return this.objects.get(key);
  }

  /** Current objects, sorted by key like an etcd range. */
  list(filter?: (o: KubeObject) => boolean): StoredItem[] {
    const out: StoredItem[] = [];
    for (const item of this.objects.values()) if (!filter || filter(item.obj)) out.push(item);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  get size(): number { return this.objects.size; }

  /**
   * Starts a watch. fromRv undefined/0: synthetic ADDED for every current object first. fromRv N: every change after N.
   * Throws Expired (410) when N is older than the ring. Replay and subscription happen in one synchronous step.
   */
  watch(fromRv: number | undefined, listener: CacheListener, onClose: () => void = () => {}): () => void {
    if (!fromRv) {
      for (const item of this.list()) listener({ type: 'ADDED', key: item.key, rv: item.rv, obj: item.obj });
    } else {
      if (fromRv < this.oldestRv) throw errors.expired(`too old resource version: ${fromRv} (${this.oldestRv})`);
      for (const ev of this.ring) if (ev.rv > fromRv) listener(ev);
    }
    this.listeners.set(listener, onClose);
    return () => { this.listeners.delete(listener); };
  }

  get watcherCount(): number { return this.listeners.size; }
}
