// Fans committed events out to watchers. A watcher that starts in the past first gets the retained history
// from its start revision, then joins the live feed; both happen synchronously between two applies, so no
// event is missed or delivered twice. Watchers whose start was compacted are told the compact revision.
import { keyString, rangeEndString } from '../mvcc/keyspace.ts';
import type { Keyspace } from '../mvcc/keyspace.ts';
import type { Event } from '../mvcc/types.ts';

export interface WatchSpec {
  key: Buffer; rangeEnd?: Buffer; startRev: number; prevKv: boolean; noPut: boolean; noDelete: boolean;
}

export interface Watcher {
  /** Events in revision order; called with batches from one or more revisions. */
  deliver(events: Event[]): void;
  /** The start revision has been compacted: the watcher is dead. */
  compacted(compactRev: number): void;
}

interface Entry { spec: WatchSpec; key: string; end: string | null | ''; nextRev: number; sink: Watcher }

const MAX_EVENTS_PER_BATCH = 1000;

export class WatchHub {
  private readonly entries = new Set<Entry>();
  private readonly kv: Keyspace;

  constructor(kv: Keyspace) {
    this.kv = kv;
    const prev = kv.onCommit;
    kv.onCommit = (events, rev) => { prev(events, rev); this.publish(events, rev); };
  }

  get size(): number { return this.entries.size; }

  /** Register a watcher; returns a function that removes it. */
  add(spec: WatchSpec, sink: Watcher): () => void {
    const entry: Entry = { spec, key: keyString(spec.key), end: rangeEndString(spec.rangeEnd), nextRev: 0, sink };
    const start = spec.startRev > 0 ? spec.startRev : this.kv.rev + 1;
    if (start < this.kv.compactRev) {
      sink.compacted(this.kv.compactRev);
      return () => {};
    }
    if (start <= this.kv.rev) {
      const history = this.kv.eventsSince(start).filter((ev) => this.matches(entry, ev));
      for (let i = 0; i < history.length;) {
        // keep one revision's events together in a batch
        let j = Math.min(i + MAX_EVENTS_PER_BATCH, history.length);
        while (j < history.length && history[j].kv.mod_revision === history[j - 1].kv.mod_revision) j++;
        sink.deliver(history.slice(i, j).map((ev) => this.shape(entry, ev)));
        i = j;
      }
    }
    entry.nextRev = Math.max(start, this.kv.rev + 1);
    this.entries.add(entry);
    return () => { this.entries.delete(entry); };
  }

  private matches(e: Entry, ev: Event): boolean {
    if (ev.type === 'PUT' ? e.spec.noPut : e.spec.noDelete) return false;
    const k = keyString(ev.kv.key);
    if (e.end === null) return k === e.key;
    return k >= e.key && (e.end === '' || k < e.end);
  }

  private shape(e: Entry, ev: Event): Event {
    if (e.spec.prevKv || !ev.prev_kv) return ev;
    return { type: ev.type, kv: ev.kv };
  }

  private publish(events: Event[], rev: number): void {
    for (const e of this.entries) {
      if (rev < e.nextRev) continue;
      let out: Event[] | undefined;
      for (const ev of events) {
        if (!this.matches(e, ev)) continue;
        (out ??= []).push(this.shape(e, ev));
      }
      if (out) {
        try { e.sink.deliver(out); } catch { this.entries.delete(e); }
      }
    }
  }
}
