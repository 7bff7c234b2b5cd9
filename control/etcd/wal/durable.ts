// Durable Raft storage: the WAL and the snapshot files behind a MemoryStorage, for a driver's Ready loop.
//
//   const { disk, storage, snapshot, fresh, warnings } = await RaftDisk.open({ walDir, snapDir, metadata });
//   const node = new RawNode({ id, storage, ..., applied: snapshot?.metadata.index });
//   if (fresh) node.bootstrap({ voters }) // or join an existing cluster with empty storage
//   // restore the state machine from `snapshot` (if any), then run the Ready loop:
//   const rd = node.ready(); await disk.persist(rd); send(rd.messages); apply(rd.committedEntries); node.advance();
//   // every N applied entries:
//   await disk.compact(appliedIndex, confState, snapshotWriter); // the state machine's snapshot, into a file
//
// persist() writes the snapshot file first, then its WAL marker, then HardState and entries (one fsync), and
// only then updates the MemoryStorage the core reads from, so what the core sees is always durable.
import { join } from 'node:path';
import { readdir } from 'node:fs/promises';
import { MemoryStorage } from '../raft/index.ts';
import type { ConfState, Ready, Snapshot, SnapshotMetadata } from '../raft/index.ts';
import { Snapshotter } from '../snap/index.ts';
import type { SnapshotWriter } from '../snap/index.ts';
import { WAL, entriesAfter } from './wal.ts';
import type { WalOptions } from './wal.ts';

/** A snapshot in memory whose data is in its file only. */
const NO_DATA = new Uint8Array(0);

export interface RaftDiskOptions extends WalOptions {
  walDir: string;
  snapDir: string;
  /** Stored in every WAL segment when the WAL is created (e.g. member and cluster ids). */
  metadata?: Uint8Array;
  /** Entries kept behind a snapshot so slightly slow followers catch up without a snapshot. Default 5000. */
  catchUpEntries?: number;
  /** Snapshot files kept on disk. Default 5. */
  keepSnapshots?: number;
}

export interface OpenedRaftDisk {
  disk: RaftDisk;
  /** Holds the recovered snapshot, hard state and entries; pass it to the RawNode. */
  storage: MemoryStorage;
  /** Snapshot the state machine must be restored from before applying entries, if any. */
  snapshot?: Snapshot;
  /** True when no WAL existed: a brand-new member (bootstrap or join). */
  fresh: boolean;
  /** Metadata written when the WAL was created. */
  metadata: Uint8Array;
  /** Repairs and skipped files (torn WAL tail truncated, damaged snapshot skipped). */
  warnings: string[];
}

async function hasWal(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).some((n) => n.endsWith('.wal'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

export class RaftDisk {
  readonly wal: WAL;
  readonly snapshotter: Snapshotter;
  readonly storage: MemoryStorage;
  private readonly catchUpEntries: number;
  private readonly keepSnapshots: number;

  private constructor(wal: WAL, snapshotter: Snapshotter, storage: MemoryStorage, opts: RaftDiskOptions) {
    this.wal = wal;
    this.snapshotter = snapshotter;
    this.storage = storage;
    this.catchUpEntries = opts.catchUpEntries ?? 5000;
    this.keepSnapshots = opts.keepSnapshots ?? 5;
  }

  static async open(opts: RaftDiskOptions): Promise<OpenedRaftDisk> {
    const snapshotter = new Snapshotter(opts.snapDir);
    const storage = new MemoryStorage();
    if (!(await hasWal(opts.walDir))) {
      const metadata = opts.metadata ?? new Uint8Array(0);
      const wal = await WAL.create(opts.walDir, metadata, opts);
      return { disk: new RaftDisk(wal, snapshotter, storage, opts), storage, fresh: true, metadata, warnings: [] };
    }
    const { wal, replay } = await WAL.open(opts.walDir, opts);
    const warnings = [...replay.warnings];
    try {
      // Only a snapshot the WAL recorded is usable: the WAL then holds every entry after it.
      const newest = await snapshotter.loadNewest(replay.snapshots);
      warnings.push(...newest.warnings);
      const snapshot = newest.snapshot;
      if (snapshot) storage.applySnapshot(snapshot);
      storage.append(entriesAfter(replay.entries, snapshot?.metadata.index ?? 0, opts.walDir));
      storage.setHardState(replay.hardState);
      return { disk: new RaftDisk(wal, snapshotter, storage, opts), storage, snapshot, fresh: false, metadata: replay.metadata, warnings };
    } catch (err) {
      await wal.close();
      throw err;
    }
  }

  /** Make a Ready's snapshot, hard state and entries durable, then expose them to the core via the storage. */
  async persist(rd: Ready): Promise<void> {
    if (rd.snapshot) {
      await this.snapshotter.save(rd.snapshot);
      await this.wal.saveSnapshot({ index: rd.snapshot.metadata.index, term: rd.snapshot.metadata.term });
      this.storage.applySnapshot(rd.snapshot);
    }
    if (rd.hardState || rd.entries.length > 0) await this.wal.save(rd.hardState, rd.entries, rd.mustSync);
    if (rd.entries.length > 0) this.storage.append(rd.entries);
    if (rd.hardState) this.storage.setHardState(rd.hardState);
    if (rd.snapshot) {
      // The received snapshot replaces everything before it, on disk too.
      await this.wal.releaseTo(rd.snapshot.metadata.index);
      await this.snapshotter.purge(this.keepSnapshots);
    }
  }

  /**
   * Record that the state machine at appliedIndex is what `write` produces: save it as a snapshot file, then
   * compact the in-memory log (keeping catchUpEntries behind), release WAL segments the snapshot covers and
   * purge old snapshot files. The data stays in the file only: a MsgSnap gets it from there (snapshotAt).
   */
  async compact(appliedIndex: number, confState: ConfState, write: SnapshotWriter): Promise<void> {
    const metadata = { index: appliedIndex, term: this.storage.term(appliedIndex), confState };
    await this.snapshotter.saveFrom(metadata, write);
    this.storage.createSnapshot(appliedIndex, confState, NO_DATA);
    await this.wal.saveSnapshot({ index: appliedIndex, term: metadata.term });
    const compactTo = appliedIndex - this.catchUpEntries;
    if (compactTo > this.storage.firstIndex()) this.storage.compact(compactTo);
    // A restart needs only the snapshot and the entries after it.
    await this.wal.releaseTo(appliedIndex);
    await this.snapshotter.purge(this.keepSnapshots);
  }

  /** The snapshot at metadata's (term, index) with its data, from its file. */
  snapshotAt(metadata: SnapshotMetadata): Promise<Snapshot> {
    return this.snapshotter.loadAt(metadata.term, metadata.index);
  }

  close(): Promise<void> {
    return this.wal.close();
  }
}

/** Default layout under an etcd-style data dir: member/wal and member/snap. */
export function memberDirs(dataDir: string): { walDir: string; snapDir: string } {
  return { walDir: join(dataDir, 'member', 'wal'), snapDir: join(dataDir, 'member', 'snap') };
}
