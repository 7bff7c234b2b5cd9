// kts etcd snapshot files: see snapshotter.ts for usage.
export type { SnapshotSink, SnapshotWriter } from './snapshotter.ts';
export { Snapshotter, SnapCorruptError, encodeSnapshot, decodeSnapshot, snapshotFileName } from './snapshotter.ts';
