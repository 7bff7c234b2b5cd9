// The storage interface the core reads its stable log from, and MemoryStorage, the in-memory implementation.
//
// The core never writes to Storage. The driver does, while handling a Ready: storage.append(rd.entries),
// storage.setHardState(rd.hardState), storage.applySnapshot(rd.snapshot) - after (or while) making them durable
// in the WAL. On restart the driver rebuilds a MemoryStorage from the snapshot file and the WAL.
// Log compaction: once the application has a snapshot at index i, storage.createSnapshot(i, ...) then
// storage.compact(i) drops the entries the snapshot covers.
import { CompactedError, SnapshotOutOfDateError, UnavailableError } from './errors.ts';
import { emptySnapshot, entrySize } from './types.ts';
import type { ConfState, Entry, HardState, Snapshot } from './types.ts';

export interface Storage {
  /** Persistent state at startup: the HardState and the membership of the latest snapshot. */
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries [lo, hi), cut to maxSize bytes (at least one entry is always returned when lo < hi). */
  entries(lo: number, hi: number, maxSize?: number): Entry[];
  /** Term of entry i; i may be firstIndex()-1 (the snapshot's index). */
  term(i: number): number;
  lastIndex(): number;
  /** Index of the first entry still available (snapshot index + 1). */
  firstIndex(): number;
  snapshot(): Snapshot;
}

/** Cut a run of entries so that its total size stays within maxSize, keeping at least one entry. */
export function limitSize(ents: Entry[], maxSize: number | undefined): Entry[] {
  if (maxSize === undefined || ents.length === 0) return ents;
  let size = entrySize(ents[0]);
  let n = 1;
  for (; n < ents.length; n++) {
    size += entrySize(ents[n]);
    if (size > maxSize) break;
  }
  return n === ents.length ? ents : ents.slice(0, n);
}

export class MemoryStorage implements Storage {
  private hardState: HardState = { term: 0, vote: 0, commit: 0 };
  private snap: Snapshot = emptySnapshot();
  /** ents[0] is a dummy entry holding the snapshot's index and term. */
  private ents: Entry[] = [{ term: 0, index: 0, type: 'Normal', data: new Uint8Array(0) }];

  /** confState: the initial membership of a brand-new cluster (stored as the empty snapshot's ConfState). */
  constructor(confState?: ConfState) {
    if (confState) this.snap.metadata.confState = { voters: [...confState.voters], learners: [...confState.learners] };
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: { ...this.hardState }, confState: this.snap.metadata.confState };
  }

  setHardState(hs: HardState): void {
    this.hardState = { ...hs };
  }

  entries(lo: number, hi: number, maxSize?: number): Entry[] {
    const offset = this.ents[0].index;
    if (lo <= offset) throw new CompactedError(lo, offset + 1);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1, this.lastIndex());
    if (this.ents.length === 1) return [];
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxSize);
  }

  term(i: number): number {
    const offset = this.ents[0].index;
    if (i < offset) throw new CompactedError(i, offset + 1);
    if (i - offset >= this.ents.length) throw new UnavailableError(i, this.lastIndex());
    return this.ents[i - offset].term;
  }

  lastIndex(): number {
    return this.ents[0].index + this.ents.length - 1;
  }

  firstIndex(): number {
    return this.ents[0].index + 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replace the whole log with a snapshot (a follower receiving MsgSnap, or a restart). */
  applySnapshot(snap: Snapshot): void {
    const current = this.snap.metadata.index;
    if (current >= snap.metadata.index) throw new SnapshotOutOfDateError(snap.metadata.index, current);
    this.snap = snap;
    this.ents = [{ term: snap.metadata.term, index: snap.metadata.index, type: 'Normal', data: new Uint8Array(0) }];
  }

  /**
   * Record that the application's state at index i is `data`, so that the leader can send it to lagging members.
   * Does not drop entries: call compact() for that.
   */
  createSnapshot(i: number, confState: ConfState | undefined, data: Uint8Array): Snapshot {
    if (i <= this.snap.metadata.index) throw new SnapshotOutOfDateError(i, this.snap.metadata.index);
    if (i > this.lastIndex()) throw new UnavailableError(i, this.lastIndex());
    const offset = this.ents[0].index;
    this.snap = {
      metadata: {
        index: i,
        term: this.ents[i - offset].term,
        confState: confState ?? this.snap.metadata.confState,
      },
      data,
    };
    return this.snap;
  }

  /** Drop every entry before compactIndex; compactIndex must not exceed the applied index. */
  compact(compactIndex: number): void {
    const offset = this.ents[0].index;
    if (compactIndex <= offset) throw new CompactedError(compactIndex, offset + 1);
    if (compactIndex > this.lastIndex()) throw new UnavailableError(compactIndex, this.lastIndex());
    const i = compactIndex - offset;
    const dummy: Entry = { term: this.ents[i].term, index: this.ents[i].index, type: 'Normal', data: new Uint8Array(0) };
    this.ents = [dummy, ...this.ents.slice(i + 1)];
  }

  /** Append entries, replacing any conflicting suffix. Entries must be contiguous. */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0].index + entries.length - 1;
    if (last < first) return; // entirely compacted already
    if (first > entries[0].index) entries = entries.slice(first - entries[0].index);
    const offset = entries[0].index - this.ents[0].index;
    if (offset > this.ents.length) {
      throw new UnavailableError(entries[0].index, this.lastIndex());
    }
    this.ents.length = offset; // drop a conflicting suffix, if any
    for (const e of entries) this.ents.push(e);
  }
}
