// kts etcd WAL (wal.ts) and the durable Raft storage built on it and on snapshot files (durable.ts).
export { WAL, WalCorruptError, DEFAULT_SEGMENT_BYTES, entriesAfter } from './wal.ts';
export type { WalOptions, OpenOptions, Replay, SnapshotMarker } from './wal.ts';
export { RaftDisk, memberDirs } from './durable.ts';
export type { RaftDiskOptions, OpenedRaftDisk } from './durable.ts';
