// The data that crosses the boundary of the Raft core: log entries, persistent state, snapshots and messages.
// Shapes and names follow etcd-io/raft's raftpb so that a peer transport can map them onto the upstream wire format.

/** Id 0 means "nobody" (no leader known, no vote cast). Member ids are positive integers. */
export const NONE = 0;

export type EntryType = 'Normal' | 'ConfChange';

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  /** Opaque to Raft for Normal entries; an encoded ConfChange (see confchange.ts) for ConfChange entries. */
  data: Uint8Array;
}

/** What must be on stable storage before any message of the same Ready is sent. */
export interface HardState {
  term: number;
  vote: number;
  commit: number;
}

/** Volatile state, reported only when it changes (useful for logs and metrics). */
export interface SoftState {
  lead: number;
  raftState: StateType;
}

export type StateType = 'Follower' | 'PreCandidate' | 'Candidate' | 'Leader';

export interface ConfState {
  voters: number[];
  learners: number[];
}

export interface SnapshotMetadata {
  index: number;
  term: number;
  confState: ConfState;
}

export interface Snapshot {
  metadata: SnapshotMetadata;
  /** The application's state machine at metadata.index, opaque to Raft. */
  data: Uint8Array;
}

export type MessageType =
  | 'MsgHup' | 'MsgBeat' | 'MsgProp' | 'MsgApp' | 'MsgAppResp' | 'MsgVote' | 'MsgVoteResp' | 'MsgSnap'
  | 'MsgHeartbeat' | 'MsgHeartbeatResp' | 'MsgUnreachable' | 'MsgSnapStatus' | 'MsgCheckQuorum'
  | 'MsgTransferLeader' | 'MsgTimeoutNow' | 'MsgReadIndex' | 'MsgReadIndexResp' | 'MsgPreVote' | 'MsgPreVoteResp';

/** Messages that a member only ever sends to itself; arriving from the network they are refused. */
export const LOCAL_MESSAGES: ReadonlySet<MessageType> = new Set<MessageType>([
  'MsgHup', 'MsgBeat', 'MsgUnreachable', 'MsgSnapStatus', 'MsgCheckQuorum',
]);

export const RESPONSE_MESSAGES: ReadonlySet<MessageType> = new Set<MessageType>([
  'MsgAppResp', 'MsgVoteResp', 'MsgHeartbeatResp', 'MsgUnreachable', 'MsgReadIndexResp', 'MsgPreVoteResp',
]);

export interface Message {
  type: MessageType;
  to: number;
  from: number;
  term: number;
  /** Term of the entry at `index` (MsgApp), of the candidate's last entry (votes), or the rejection hint's term. */
  logTerm: number;
  index: number;
  entries: Entry[];
  commit: number;
  snapshot?: Snapshot;
  reject: boolean;
  rejectHint: number;
  /** ReadIndex request context, or CAMPAIGN_TRANSFER on a vote forced by leader transfer. */
  context?: Uint8Array;
}

/** A linearizable read may be served once the applied index reaches `index`. */
export interface ReadState {
  index: number;
  requestCtx: Uint8Array;
}

export type ConfChangeType = 'AddNode' | 'RemoveNode' | 'AddLearnerNode';

/** One membership change; clusters change one member at a time. */
export interface ConfChange {
  type: ConfChangeType;
  nodeId: number;
  /** Opaque to Raft; etcd puts the member's peer URLs here. */
  context?: Uint8Array;
}

export type SnapshotStatus = 'Finish' | 'Failure';

/** Fill in the fields a message does not use, so every Message has the same shape. */
export function message(m: Partial<Message> & Pick<Message, 'type'>): Message {
  return {
    to: NONE, from: NONE, term: 0, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0,
    ...m,
  };
}

export function isEmptySnapshot(s: Snapshot | undefined): boolean {
  return s === undefined || s.metadata.index === 0;
}

export function emptySnapshot(): Snapshot {
  return { metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } }, data: new Uint8Array(0) };
}

export function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/** Approximate payload size, used to cap message and batch sizes. */
export function entrySize(e: Entry): number {
  return e.data.byteLength + 24;
}
