// kts etcd snapshot files: see snapshotter.ts for usage.
export { Snapshotter, SnapCorruptError, encodeSnapshot, decodeSnapshot, snapshotFileName } from './snapshotter.ts';
