// The multi-version keyspace: every change gets a revision (main = one per write transaction, sub = the
// change's position inside it); each key keeps its versions so reads at old revisions and watches from old
// revisions work until a compaction drops what nobody can see any more.
// Keys are held as latin1 strings (one char per byte) so that JS string order is etcd's byte order.
import { etcdErrors } from './errors.ts';
import type { Event, KeyValue } from './types.ts';
import { SortedKeys } from './sorted-keys.ts';

export const NO_LEASE = '0';

/** Versions of one key, oldest first. A tombstone (deletion) is a KeyValue with version 0. */
type History = KeyValue[];

export interface RangeOptions { rev?: number; limit?: number; countOnly?: boolean }
export interface RangeResult { kvs: KeyValue[]; count: number; rev: number }

const EMPTY = Buffer.alloc(0);

export function keyString(b: Buffer): string { return b.toString('latin1'); }

/** etcd's range convention: no end = one key; end "\0" = every key >= key; otherwise [key, end). */
export function rangeEndString(end: Buffer | undefined | null): string | null | '' {
  if (!end || end.length === 0) return null;
  if (end.length === 1 && end[0] === 0) return '';
  return keyString(end);
}

export function isTombstone(kv: KeyValue): boolean { return kv.version === 0; }

export class Keyspace {
  /** Current (latest committed) main revision. */
  rev = 1;
  compactRev = 0;
  private readonly histories = new Map<string, History>();
  private readonly sortedKeys = new SortedKeys();
  /** All events since the last compaction, in revision order (for watchers that start in the past). */
  private events: Event[] = [];
  private eventsStart = 0;
  private txnChanges: Event[] | null = null;
  private txnSub = 0;
  /** Called once per committed write transaction with its events. */
  onCommit: (events: Event[], rev: number) => void = () => {};
  /** Called when a key's lease attachment changes (old and new may be NO_LEASE). */
  onLeaseChange: (key: string, oldLease: string, newLease: string) => void = () => {};

  get keyCount(): number { return this.histories.size; }
  /** Bytes of every retained version (keys, values and a fixed per-version overhead): the reported db size. */
  get retainedBytes(): number { return this.bytes; }
  private bytes = 0;

  private static visibleAt(h: History, rev: number): KeyValue | undefined {
    let i = h.length - 1;
    if (h[i].mod_revision > rev) {
      let lo = 0, hi = h.length;
      while (lo < hi) { const mid = (lo + hi) >>> 1; if (h[mid].mod_revision <= rev) lo = mid + 1; else hi = mid; }
      i = lo - 1;
      if (i < 0) return undefined;
    }
    const kv = h[i];
    return isTombstone(kv) ? undefined : kv;
  }

  /** The revision reads inside the current write transaction see (its own writes included). */
  private readRev(): number { return this.txnChanges && this.txnChanges.length > 0 ? this.rev + 1 : this.rev; }

  checkRev(rev: number): number {
    if (rev <= 0) return this.readRev();
    if (rev > this.readRev()) throw etcdErrors.futureRev();
    if (rev < this.compactRev) throw etcdErrors.compacted();
    return rev;
  }

  /** Visit live keys in [key, end) at rev, in key order; stop when visit returns false. */
  private scan(key: Buffer, end: Buffer | undefined | null, rev: number, visit: (kv: KeyValue) => boolean): void {
    const k = keyString(key);
    const e = rangeEndString(end);
    if (e === null) {
      const h = this.histories.get(k);
      const kv = h && Keyspace.visibleAt(h, rev);
      if (kv) visit(kv);
      return;
    }
    if (e !== '' && e <= k) return;
    this.sortedKeys.forEachFrom(k, (sk) => {
      if (e !== '' && sk >= e) return false;
      const kv = Keyspace.visibleAt(this.histories.get(sk)!, rev);
      return !kv || visit(kv);
    });
  }

  range(key: Buffer, end: Buffer | undefined | null, opts: RangeOptions = {}): RangeResult {
    const rev = this.checkRev(opts.rev ?? 0);
    const kvs: KeyValue[] = [];
    let count = 0;
    const limit = opts.limit && opts.limit > 0 ? opts.limit : Infinity;
    this.scan(key, end, rev, (kv) => {
      count++;
      if (!opts.countOnly && kvs.length < limit) kvs.push(kv);
      return true;
    });
    return { kvs, count, rev: this.readRev() };
  }

  /** Start a write transaction; every put/delete until commit() shares one main revision. */
  begin(): void {
    if (this.txnChanges) throw new Error('keyspace: write transaction already open');
    this.txnChanges = [];
    this.txnSub = 0;
  }

  private changes(): Event[] {
    if (!this.txnChanges) throw new Error('keyspace: write outside a transaction');
    return this.txnChanges;
  }

  private append(k: string, kv: KeyValue): void {
    let h = this.histories.get(k);
    if (!h) {
      h = [];
      this.histories.set(k, h);
      this.sortedKeys.insert(k);
    }
    h.push(kv);
    this.bytes += versionBytes(kv);
  }

  private current(k: string): KeyValue | undefined {
    const h = this.histories.get(k);
    if (!h) return undefined;
    const kv = h[h.length - 1];
    return isTombstone(kv) ? undefined : kv;
  }

  /** Write key. value/lease undefined keep the current ones (ignore_value / ignore_lease). Returns the previous kv. */
  put(key: Buffer, value: Buffer | undefined, lease: string | undefined): KeyValue | undefined {
    const changes = this.changes();
    const k = keyString(key);
    const prev = this.current(k);
    const rev = this.rev + 1;
    const kv: KeyValue = {
      key,
      create_revision: prev ? prev.create_revision : rev,
      mod_revision: rev,
      version: prev ? prev.version + 1 : 1,
      value: value ?? prev?.value ?? EMPTY,
      lease: lease ?? prev?.lease ?? NO_LEASE,
    };
    this.append(k, kv);
    this.txnSub++;
    changes.push(prev ? { type: 'PUT', kv, prev_kv: prev } : { type: 'PUT', kv });
    const oldLease = prev?.lease ?? NO_LEASE;
    if (oldLease !== kv.lease) this.onLeaseChange(k, oldLease, kv.lease);
    return prev;
  }

  /** Delete every live key in [key, end). Returns the deleted kvs. */
  deleteRange(key: Buffer, end: Buffer | undefined | null): KeyValue[] {
    const changes = this.changes();
    const doomed: KeyValue[] = [];
    this.scan(key, end, this.readRev(), (kv) => { doomed.push(kv); return true; });
    const rev = this.rev + 1;
    for (const prev of doomed) {
      const k = keyString(prev.key);
      const tomb: KeyValue = { key: prev.key, create_revision: 0, mod_revision: rev, version: 0, value: EMPTY, lease: NO_LEASE };
      this.append(k, tomb);
      this.txnSub++;
      changes.push({ type: 'DELETE', kv: tomb, prev_kv: prev });
      if (prev.lease !== NO_LEASE) this.onLeaseChange(k, prev.lease, NO_LEASE);
    }
    return doomed;
  }

  /** Close the write transaction: bump the revision if anything changed and tell watchers. */
  commit(): Event[] {
    const changes = this.changes();
    this.txnChanges = null;
    if (changes.length === 0) return changes;
    this.rev += 1;
    for (const ev of changes) this.events.push(ev);
    this.onCommit(changes, this.rev);
    return changes;
  }

  /** Drop versions nobody can read after rev: reads and watches below rev answer "compacted". */
  compact(rev: number): void {
    if (rev <= this.compactRev) throw etcdErrors.compacted();
    if (rev > this.rev) throw etcdErrors.futureRev();
    let emptied = false;
    for (const [k, h] of this.histories) {
      // keep the newest version at or below rev (unless it is a tombstone) and everything after it
      let keepFrom = 0;
      for (let i = h.length - 1; i >= 0; i--) {
        if (h[i].mod_revision <= rev) { keepFrom = isTombstone(h[i]) ? i + 1 : i; break; }
      }
      if (keepFrom > 0) for (const dropped of h.splice(0, keepFrom)) this.bytes -= versionBytes(dropped);
      if (h.length === 0) { this.histories.delete(k); emptied = true; }
    }
    if (emptied) {
      this.sortedKeys.retain((k) => this.histories.has(k));
    }
    // events below rev are no longer replayable (as in etcd, a watch may still start at rev itself)
    let drop = this.eventsStart;
    while (drop < this.events.length && this.events[drop].kv.mod_revision < rev) drop++;
    this.events = this.events.slice(drop);
    this.eventsStart = 0;
    this.compactRev = rev;
  }

  /** Events with revision >= fromRev (fromRev must not be below the compacted revision). */
  eventsSince(fromRev: number): Event[] {
    if (fromRev < this.compactRev) throw etcdErrors.compacted();
    let lo = this.eventsStart, hi = this.events.length;
    while (lo < hi) { const mid = (lo + hi) >>> 1; if (this.events[mid].kv.mod_revision < fromRev) lo = mid + 1; else hi = mid; }
    return this.events.slice(lo);
  }

  /** Every version still held (for hashing and snapshots), in key then revision order. */
  allVersions(): KeyValue[] {
    // an array, not a generator: snapshots walk every version and yield* cost more than the encoding itself
    const out: KeyValue[] = [];
    this.sortedKeys.forEachFrom('', (k) => {
      const h = this.histories.get(k)!;
      for (let i = 0; i < h.length; i++) out.push(h[i]);
      return true;
    });
    return out;
  }

  /** Rebuild from a snapshot: all retained versions plus the revision counters. */
  restore(rev: number, compactRev: number, versions: Iterable<KeyValue>): void {
    this.histories.clear();
    this.sortedKeys.reset([]);
    this.bytes = 0;
    this.events = [];
    this.eventsStart = 0;
    const keys: string[] = [];
    for (const kv of versions) {
      const k = keyString(kv.key);
      let h = this.histories.get(k);
      if (!h) { h = []; this.histories.set(k, h); keys.push(k); }
      h.push(kv);
      this.bytes += versionBytes(kv);
    }
    keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    this.sortedKeys.reset(keys);
    const all: Event[] = [];
    for (const k of keys) {
      const h = this.histories.get(k)!;
      for (let i = 0; i < h.length; i++) {
        const kv = h[i];
        if (kv.mod_revision < compactRev) continue;
        const prev = i > 0 && !isTombstone(h[i - 1]) ? h[i - 1] : undefined;
        const ev: Event = isTombstone(kv) ? { type: 'DELETE', kv } : { type: 'PUT', kv };
        if (prev) ev.prev_kv = prev;
        all.push(ev);
      }
    }
    all.sort((a, b) => a.kv.mod_revision - b.kv.mod_revision);
    this.events = all;
    this.rev = rev;
    this.compactRev = compactRev;
  }
}

/** What one retained version counts for in the db size (etcd reports its bolt file; we count what we hold). */
function versionBytes(kv: KeyValue): number {
  return kv.key.length + kv.value.length + 40;
}
