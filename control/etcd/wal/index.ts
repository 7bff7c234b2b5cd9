// kts etcd WAL: see wal.ts for usage.
export { WAL, WalCorruptError, DEFAULT_SEGMENT_BYTES } from './wal.ts';
export type { WalOptions, OpenOptions, Replay, SnapshotMarker } from './wal.ts';
