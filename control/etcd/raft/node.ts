// RawNode: the driver-facing wrapper around the Raft state machine. Inputs are method calls; outputs are
// collected into a Ready, which the driver handles and then acknowledges with advance(). See index.ts for the loop.
import { encodeConfChange } from './confchange.ts';
import { InvalidMessageError, ProposalDroppedError, RaftConfigError } from './errors.ts';
import { Raft } from './raft.ts';
import type { RaftConfig } from './raft.ts';
import { LOCAL_MESSAGES, NONE, RESPONSE_MESSAGES, hardStateEqual, message } from './types.ts';
import type {
  ConfChange, ConfState, Entry, HardState, Message, MessageType, ReadState, Snapshot, SnapshotStatus, SoftState, StateType,
} from './types.ts';

/** Everything the driver must do, in this order: persist, send, apply; then call advance(). */
export interface Ready {
  /** Changed volatile state (leader, role), for logging and metrics; undefined when unchanged. */
  softState?: SoftState;
  /** Changed persistent state; write it durably before sending messages. Undefined when unchanged. */
  hardState?: HardState;
  /** Linearizable reads confirmed by this Ready: serve each once applied >= index. */
  readStates: ReadState[];
  /** Entries to append to stable storage (WAL + Storage) before sending messages. */
  entries: Entry[];
  /** Snapshot to persist and install (Storage.applySnapshot) before applying committedEntries. */
  snapshot?: Snapshot;
  /** Committed entries to apply to the state machine, in order. */
  committedEntries: Entry[];
  /** Messages to send after the entries and hardState are durable. */
  messages: Message[];
  /** Whether the hardState/entries must be fsynced (false when only the commit index moved). */
  mustSync: boolean;
}

export interface Status {
  id: number;
  term: number;
  vote: number;
  commit: number;
  lead: number;
  raftState: StateType;
  applied: number;
  leadTransferee: number;
  /** Per member replication progress; only on the leader. */
  progress: Record<number, { match: number; next: number; state: string; isLearner: boolean }>;
}

export class RawNode {
  readonly raft: Raft;
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  /** The Ready handed out and not yet advanced. */
  private pending: Ready | undefined;

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.prevSoftState = this.raft.softState();
    this.prevHardState = this.raft.hardState();
  }

  /**
   * First start of a member of a brand-new cluster: write the initial membership into the log as committed
   * ConfChange entries (indexes 1..n, term 1), as etcd does. Members added later learn the membership by
   * replaying the log (or from a snapshot). The entries come out of the next Ready like any others: persist
   * them, and apply them with applyConfChange (which is idempotent for these).
   */
  bootstrap(members: { voters: number[]; learners?: number[] }): void {
    const r = this.raft;
    if (r.raftLog.lastIndex() !== 0 || r.term !== 0) throw new RaftConfigError('bootstrap needs empty storage');
    if (r.prs.progress.size > 0) throw new RaftConfigError('bootstrap: storage or config already holds a membership');
    if (members.voters.length === 0) throw new RaftConfigError('bootstrap needs at least one voter');
    const ccs: ConfChange[] = [
      ...members.voters.map((nodeId): ConfChange => ({ type: 'AddNode', nodeId })),
      ...(members.learners ?? []).map((nodeId): ConfChange => ({ type: 'AddLearnerNode', nodeId })),
    ];
    r.becomeFollower(1, NONE);
    r.raftLog.append(ccs.map((cc, i): Entry => ({ term: 1, index: i + 1, type: 'ConfChange', data: encodeConfChange(cc) })));
    r.raftLog.committed = ccs.length;
    for (const cc of ccs) r.applyConfChange(cc);
  }

  /** Advance logical time by one tick (election / heartbeat timers). */
  tick(): void {
    this.raft.tick();
  }

  /** Start an election now (used for tests and single-member bootstrap). */
  campaign(): void {
    this.raft.step(message({ type: 'MsgHup', from: this.raft.id }));
  }

  /** Propose data to be appended to the log. Throws ProposalDroppedError when it cannot be (no leader...). */
  propose(data: Uint8Array): void {
    this.stepLocal(message({
      type: 'MsgProp', from: this.raft.id, entries: [{ term: 0, index: 0, type: 'Normal', data }],
    }));
  }

  /**
   * Propose several entries as one MsgProp: one append, and one MsgApp per follower for all of them. Either
   * all are accepted or ProposalDroppedError is thrown and none is.
   */
  proposeBatch(datas: Uint8Array[]): void {
    if (datas.length === 0) return;
    const entries: Entry[] = new Array(datas.length);
    for (let i = 0; i < datas.length; i++) entries[i] = { term: 0, index: 0, type: 'Normal', data: datas[i] };
    this.stepLocal(message({ type: 'MsgProp', from: this.raft.id, entries }));
  }

  /** Propose a membership change (one member at a time). Apply it with applyConfChange once committed. */
  proposeConfChange(cc: ConfChange): void {
    this.stepLocal(message({
      type: 'MsgProp', from: this.raft.id, entries: [{ term: 0, index: 0, type: 'ConfChange', data: encodeConfChange(cc) }],
    }));
  }

  /** Apply a committed ConfChange entry; returns the new membership (store it with the next snapshot). */
  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  /**
   * Request a linearizable read. `ctx` must be unique per request; a ReadState with the same ctx appears in a
   * later Ready when the leader has confirmed its leadership. Throws ProposalDroppedError when there is no leader.
   */
  readIndex(ctx: Uint8Array): void {
    this.stepLocal(message({ type: 'MsgReadIndex', from: this.raft.id, context: ctx }));
  }

  /** Ask the leader to hand leadership to `transferee`. */
  transferLeader(transferee: number): void {
    this.stepLocal(message({ type: 'MsgTransferLeader', from: transferee, to: this.raft.id }));
  }

  /** Tell the leader that a message to `id` could not be delivered (it backs off to probing). */
  reportUnreachable(id: number): void {
    this.raft.step(message({ type: 'MsgUnreachable', from: id }));
  }

  /** Tell the leader whether sending a snapshot to `id` finished or failed. */
  reportSnapshot(id: number, status: SnapshotStatus): void {
    this.raft.step(message({ type: 'MsgSnapStatus', from: id, reject: status === 'Failure' }));
  }

  /**
   * Feed a message received from a peer. Local-only message types and responses from unknown members are
   * ignored (returns false), so a bad peer cannot drive this member's timers or state. A malformed message
   * throws InvalidMessageError before it touches any state.
   */
  step(m: Message): boolean {
    validateMessage(m, this.raft.id);
    if (LOCAL_MESSAGES.has(m.type)) return false;
    if (RESPONSE_MESSAGES.has(m.type) && !this.raft.prs.progress.has(m.from)) return false;
    try {
      this.raft.step(m);
    } catch (err) {
      // Only a peer violating Raft's guarantees (e.g. rewriting committed entries) gets here; the checks run
      // before any state changes, so refuse the message and keep serving.
      throw new InvalidMessageError(`${m.type} from ${m.from} violates the protocol: ${(err as Error).message}`);
    }
    return true;
  }

  private stepLocal(m: Message): void {
    const err = this.raft.step(m);
    if (err instanceof ProposalDroppedError) throw err;
  }

  hasReady(): boolean {
    const r = this.raft;
    const ss = r.softState();
    if (ss.lead !== this.prevSoftState.lead || ss.raftState !== this.prevSoftState.raftState) return true;
    const hs = r.hardState();
    if (!hardStateEqual(hs, this.prevHardState) && !(hs.term === 0 && hs.vote === 0 && hs.commit === 0)) return true;
    if (r.raftLog.unstable.snapshot) return true;
    if (r.msgs.length > 0 || r.raftLog.unstableEntries().length > 0 || r.raftLog.hasNextCommittedEnts()) return true;
    return r.readStates.length > 0;
  }

  /**
   * Collect the current outputs. Call advance() after handling them before calling ready() again; messages and
   * readStates are handed out exactly once.
   */
  ready(): Ready {
    if (this.pending) throw new Error('raft: ready() called again before advance()');
    const r = this.raft;
    const rd: Ready = {
      readStates: r.readStates,
      entries: [...r.raftLog.unstableEntries()],
      committedEntries: r.raftLog.nextCommittedEnts(),
      messages: r.msgs,
      mustSync: false,
    };
    const ss = r.softState();
    if (ss.lead !== this.prevSoftState.lead || ss.raftState !== this.prevSoftState.raftState) rd.softState = ss;
    const hs = r.hardState();
    if (!hardStateEqual(hs, this.prevHardState)) rd.hardState = hs;
    if (r.raftLog.unstable.snapshot) rd.snapshot = r.raftLog.unstable.snapshot;
    rd.mustSync = rd.entries.length > 0 || (rd.hardState !== undefined &&
      (rd.hardState.term !== this.prevHardState.term || rd.hardState.vote !== this.prevHardState.vote));
    r.msgs = [];
    r.readStates = [];
    this.pending = rd;
    return rd;
  }

  /** Acknowledge that the last Ready was persisted, sent and applied. */
  advance(): void {
    const rd = this.pending;
    if (!rd) throw new Error('raft: advance() called without a pending ready()');
    this.pending = undefined;
    const r = this.raft;
    if (rd.softState) this.prevSoftState = rd.softState;
    if (rd.hardState) this.prevHardState = rd.hardState;
    if (rd.snapshot) {
      r.raftLog.stableSnapTo(rd.snapshot.metadata.index);
      r.raftLog.appliedTo(rd.snapshot.metadata.index);
    }
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1];
      r.raftLog.stableTo(last.index, last.term);
    }
    if (rd.committedEntries.length > 0) {
      r.raftLog.appliedTo(rd.committedEntries[rd.committedEntries.length - 1].index);
      if (r.state === 'Leader') r.reduceUncommittedSize(rd.committedEntries);
      // A leader whose pending ReadIndex waited for an entry of its term may answer now.
      r.releasePendingReadIndexMessages();
    }
  }

  status(): Status {
    const r = this.raft;
    const progress: Status['progress'] = {};
    if (r.state === 'Leader') {
      for (const [id, pr] of r.prs.progress) {
        progress[id] = { match: pr.match, next: pr.next, state: pr.state, isLearner: pr.isLearner };
      }
    }
    return {
      id: r.id, term: r.term, vote: r.vote, commit: r.raftLog.committed, lead: r.lead, raftState: r.state,
      applied: r.raftLog.applied, leadTransferee: r.leadTransferee, progress,
    };
  }

  /** Is this member the leader? (Convenience for drivers.) */
  isLeader(): boolean {
    return this.raft.state === 'Leader' && this.raft.lead === this.raft.id && this.raft.lead !== NONE;
  }
}

const MESSAGE_TYPES: ReadonlySet<string> = new Set<MessageType>([
  'MsgHup', 'MsgBeat', 'MsgProp', 'MsgApp', 'MsgAppResp', 'MsgVote', 'MsgVoteResp', 'MsgSnap', 'MsgHeartbeat',
  'MsgHeartbeatResp', 'MsgUnreachable', 'MsgSnapStatus', 'MsgCheckQuorum', 'MsgTransferLeader', 'MsgTimeoutNow',
  'MsgReadIndex', 'MsgReadIndexResp', 'MsgPreVote', 'MsgPreVoteResp',
]);

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Reject what no correct peer sends, naming the problem. */
function validateMessage(m: Message, self: number): void {
  const bad = (why: string): never => {
    throw new InvalidMessageError(`${String(m?.type)} from ${String(m?.from)}: ${why}`);
  };
  if (!m || typeof m !== 'object') bad('not an object');
  if (!MESSAGE_TYPES.has(m.type)) bad(`unknown type ${JSON.stringify(m.type)}`);
  if (!isIndex(m.from) || m.from === NONE) bad('from must be a positive member id');
  if (m.to !== self) bad(`addressed to ${m.to}, this member is ${self}`);
  for (const f of ['term', 'logTerm', 'index', 'commit', 'rejectHint'] as const) {
    if (!isIndex(m[f])) bad(`${f} must be a non-negative integer, got ${String(m[f])}`);
  }
  // Only forwarded proposals and reads travel without a term.
  if (m.term === 0 && m.type !== 'MsgProp' && m.type !== 'MsgReadIndex' && !LOCAL_MESSAGES.has(m.type)) bad('term is 0');
  if (!Array.isArray(m.entries)) bad('entries must be a list');
  if (m.type === 'MsgProp' && m.entries.length === 0) bad('proposal without entries');
  if (m.type === 'MsgApp') {
    for (let i = 0; i < m.entries.length; i++) {
      const e = m.entries[i];
      if (e.index !== m.index + 1 + i) bad(`entry ${i} has index ${e.index}, expected ${m.index + 1 + i}`);
      if (!isIndex(e.term) || e.term > m.term || e.term < m.logTerm) bad(`entry ${e.index} has term ${e.term} outside [${m.logTerm}, ${m.term}]`);
      if (!(e.data instanceof Uint8Array)) bad(`entry ${e.index} data is not bytes`);
    }
  }
  if (m.type === 'MsgSnap') {
    const md = m.snapshot?.metadata;
    if (!md || !isIndex(md.index) || md.index === 0 || !isIndex(md.term) || !md.confState) bad('snapshot metadata missing or empty');
    if (!(m.snapshot!.data instanceof Uint8Array)) bad('snapshot data is not bytes');
  }
}
