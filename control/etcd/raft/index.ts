// kts etcd Raft core: public surface. (Driver documentation: see the top of this file once complete.)
export { RawNode } from './node.ts';
export type { Ready, Status } from './node.ts';
export { Raft, CAMPAIGN_TRANSFER } from './raft.ts';
export type { RaftConfig } from './raft.ts';
export { MemoryStorage } from './storage.ts';
export type { Storage } from './storage.ts';
export { seededRand } from './rand.ts';
export type { Rand } from './rand.ts';
export { encodeConfChange, decodeConfChange } from './confchange.ts';
export {
  CompactedError, UnavailableError, SnapshotOutOfDateError, SnapshotTemporarilyUnavailableError,
  ProposalDroppedError, RaftConfigError,
} from './errors.ts';
export { NONE, message, isEmptySnapshot, emptySnapshot } from './types.ts';
export type {
  Entry, EntryType, HardState, SoftState, StateType, ConfState, Snapshot, SnapshotMetadata, Message, MessageType,
  ReadState, ConfChange, ConfChangeType, SnapshotStatus,
} from './types.ts';
