// The Raft protocol as a deterministic state machine (Ongaro & Ousterhout; design after etcd-io/raft raft.go).
// No timers, sockets, files, awaits or Math.random: time is tick(), input is step(message), output accumulates
// in `msgs`, `readStates` and the log's unstable part, which RawNode (node.ts) packs into a Ready.
// Each role installs its own tick function (election timer or heartbeat timer) and step function.
import { decodeConfChange } from './confchange.ts';
import { CompactedError, ProposalDroppedError, RaftConfigError } from './errors.ts';
import { RaftLog } from './log.ts';
import { Progress, ProgressTracker } from './progress.ts';
import type { Rand } from './rand.ts';
import type { Storage } from './storage.ts';
import { NONE, message } from './types.ts';
import type { ConfChange, ConfState, Entry, HardState, Message, MessageType, ReadState, Snapshot, SoftState, StateType } from './types.ts';

export interface RaftConfig {
  /** This member's id (> 0). */
  id: number;
  storage: Storage;
  /** Ticks without hearing from a leader before campaigning; the actual timeout is random in [e, 2e). */
  electionTick: number;
  /** Ticks between leader heartbeats; must be < electionTick. */
  heartbeatTick: number;
  /** Source of randomness for election timeouts (seededRand(n) for reproducible runs). */
  rand: Rand;
  /** Last index applied by the application (on restart, so entries are not applied twice). */
  applied?: number;
  /** Max bytes of entries per MsgApp. Default 1 MiB. */
  maxSizePerMsg?: number;
  /** Max bytes of committed entries handed out per Ready. Default unlimited. */
  maxCommittedSizePerReady?: number;
  /** Max MsgApp in flight per follower in Replicate state. Default 256. */
  maxInflightMsgs?: number;
  /**
   * Max bytes of entry data the leader holds uncommitted; further proposals are dropped until some commit, so
   * a leader that lost its quorum does not grow its log without bound. 0 (default) means no limit.
   */
  maxUncommittedEntriesSize?: number;
  /** Leader steps down when it has not heard from a quorum within an election timeout. Default true. */
  checkQuorum?: boolean;
  /** Run a pre-election that does not bump terms, so a rejoining partitioned member cannot disrupt. Default true. */
  preVote?: boolean;
  /**
   * Initial voters, used only when storage holds no membership (no snapshot). Members added later cannot learn
   * a membership given this way from the log: prefer RawNode.bootstrap(), which writes it into the log.
   */
  peers?: number[];
  /** Initial learners of a new cluster, used only when storage holds no membership yet. */
  learners?: number[];
  /** Receives one line per notable event (elections, role changes); default: discard. */
  logger?: (line: string) => void;
}

/** Context that marks a vote request forced by leader transfer: it bypasses leases and pre-vote. */
export const CAMPAIGN_TRANSFER = new TextEncoder().encode('CampaignTransfer');

export type CampaignType = 'PreElection' | 'Election' | 'Transfer';
type StepResult = undefined | ProposalDroppedError;
type StepFn = (r: Raft, m: Message) => StepResult;

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function ctxKey(ctx: Uint8Array | undefined): string {
  if (!ctx) return '';
  let s = '';
  for (const b of ctx) s += b.toString(16).padStart(2, '0');
  return s;
}

interface ReadIndexStatus {
  req: Message;
  index: number;
  acks: Map<number, boolean>;
}

/** ReadIndex requests waiting for a heartbeat round to confirm that this member is still the leader. */
class ReadOnly {
  readonly pending = new Map<string, ReadIndexStatus>();
  readonly queue: string[] = [];

  add(index: number, m: Message): void {
    const key = ctxKey(m.context);
    if (this.pending.has(key)) return;
    this.pending.set(key, { req: m, index, acks: new Map() });
    this.queue.push(key);
  }

  recvAck(id: number, ctx: Uint8Array | undefined): Map<number, boolean> | undefined {
    const rs = this.pending.get(ctxKey(ctx));
    if (!rs) return undefined;
    rs.acks.set(id, true);
    return rs.acks;
  }

  /** Release the request with this context and every request queued before it (a later ack covers earlier reads). */
  advance(ctx: Uint8Array | undefined): ReadIndexStatus[] {
    const key = ctxKey(ctx);
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const keys = this.queue.splice(0, at + 1);
    const out: ReadIndexStatus[] = [];
    for (const k of keys) {
      out.push(this.pending.get(k)!);
      this.pending.delete(k);
    }
    return out;
  }

  lastPendingCtx(): Uint8Array | undefined {
    if (this.queue.length === 0) return undefined;
    return this.pending.get(this.queue[this.queue.length - 1])!.req.context;
  }
}

export class Raft {
  readonly id: number;
  term = 0;
  vote = NONE;
  lead = NONE;
  state: StateType = 'Follower';
  readonly raftLog: RaftLog;
  readonly prs: ProgressTracker;
  /** Output: messages to send, drained by RawNode.ready(). */
  msgs: Message[] = [];
  /** Output: linearizable reads that may proceed once applied >= index. */
  readStates: ReadState[] = [];
  /** Leader transfer target, NONE when no transfer is in progress. */
  leadTransferee = NONE;
  /** Index of the latest conf change proposed by this leader; only one may be in flight (unapplied) at a time. */
  pendingConfIndex = 0;
  readOnly = new ReadOnly();
  /** ReadIndex requests that arrived before this leader committed an entry of its own term. */
  pendingReadIndexMessages: Message[] = [];

  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  readonly electionTimeout: number;
  readonly heartbeatTimeout: number;
  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  readonly maxMsgSize: number;
  readonly maxUncommittedSize: number;
  /** Leader: bytes of entry data appended in this term and not yet committed (approximate, as upstream). */
  uncommittedSize = 0;
  private readonly rand: Rand;
  private readonly logger: (line: string) => void;

  private tickFn: () => void = () => this.tickElection();
  private stepFn: StepFn = stepFollower;

  constructor(c: RaftConfig) {
    if (!Number.isSafeInteger(c.id) || c.id <= 0) throw new RaftConfigError(`id must be a positive integer, got ${c.id}`);
    if (!(c.heartbeatTick > 0)) throw new RaftConfigError(`heartbeatTick must be > 0, got ${c.heartbeatTick}`);
    if (!(c.electionTick > c.heartbeatTick)) {
      throw new RaftConfigError(`electionTick (${c.electionTick}) must be greater than heartbeatTick (${c.heartbeatTick})`);
    }
    const maxInflight = c.maxInflightMsgs ?? 256;
    if (!(maxInflight > 0)) throw new RaftConfigError(`maxInflightMsgs must be > 0, got ${maxInflight}`);
    this.id = c.id;
    this.electionTimeout = c.electionTick;
    this.heartbeatTimeout = c.heartbeatTick;
    this.checkQuorum = c.checkQuorum ?? true;
    this.preVote = c.preVote ?? true;
    this.maxMsgSize = c.maxSizePerMsg ?? 1024 * 1024;
    this.maxUncommittedSize = c.maxUncommittedEntriesSize ?? 0;
    this.rand = c.rand;
    this.logger = c.logger ?? (() => {});
    this.raftLog = new RaftLog(c.storage, c.maxCommittedSizePerReady ?? Infinity);
    this.prs = new ProgressTracker(maxInflight);

    const { hardState, confState } = c.storage.initialState();
    let cs: ConfState = confState;
    if (cs.voters.length === 0 && cs.learners.length === 0) {
      cs = { voters: c.peers ?? [], learners: c.learners ?? [] };
    }
    this.applyConfState(cs);
    if (hardState.term !== 0 || hardState.vote !== 0 || hardState.commit !== 0) this.loadState(hardState);
    if (c.applied !== undefined && c.applied > 0) this.raftLog.appliedTo(c.applied);
    this.becomeFollower(this.term, NONE);
  }

  logEvent(line: string): void {
    this.logger(`raft ${this.id} [term ${this.term}] ${line}`);
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  softState(): SoftState {
    return { lead: this.lead, raftState: this.state };
  }

  private loadState(hs: HardState): void {
    if (hs.commit < this.raftLog.committed || hs.commit > this.raftLog.lastIndex()) {
      throw new RaftConfigError(
        `hard state commit ${hs.commit} is out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`);
    }
    this.raftLog.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  /** Is this member a voter (so it may campaign)? */
  promotable(): boolean {
    return this.prs.isVoter(this.id);
  }

  // ---- sending ----

  send(m: Message): void {
    m.from = this.id;
    if (m.type === 'MsgVote' || m.type === 'MsgVoteResp' || m.type === 'MsgPreVote' || m.type === 'MsgPreVoteResp') {
      // Vote messages carry the term of the election they are about, which may differ from ours.
      if (m.term === 0) throw new Error(`raft: ${m.type} sent without a term`);
    } else if (m.type !== 'MsgProp' && m.type !== 'MsgReadIndex') {
      // Forwarded proposals and reads are local requests and carry no term.
      m.term = this.term;
    }
    this.msgs.push(m);
  }

  /** Send a MsgApp (or a MsgSnap when the needed entries are compacted) to `to`. */
  sendAppend(to: number): void {
    this.maybeSendAppend(to, true);
  }

  /** Returns whether a message was sent. With sendIfEmpty false, nothing is sent when there are no new entries. */
  maybeSendAppend(to: number, sendIfEmpty: boolean): boolean {
    const pr = this.prs.progress.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    let prevTerm: number;
    let ents: Entry[];
    try {
      prevTerm = this.raftLog.term(prevIndex);
      ents = this.raftLog.entries(pr.next, this.maxMsgSize);
    } catch (err) {
      if (err instanceof CompactedError) return this.maybeSendSnapshot(to, pr);
      // next points past our log: a response we should not have trusted. Probe again from our end.
      this.logEvent(`progress of ${to} (${pr}) is past our last index ${this.raftLog.lastIndex()}; probing again`);
      pr.match = Math.min(pr.match, this.raftLog.lastIndex());
      pr.becomeProbe();
      pr.next = Math.min(pr.next, this.raftLog.lastIndex() + 1);
      return false;
    }
    if (ents.length === 0 && !sendIfEmpty) return false;
    this.send(message({
      type: 'MsgApp', to, index: prevIndex, logTerm: prevTerm, entries: ents, commit: this.raftLog.committed,
    }));
    pr.sentEntries(ents.length > 0 ? ents[ents.length - 1].index : undefined);
    return true;
  }

  private maybeSendSnapshot(to: number, pr: Progress): boolean {
    if (!pr.recentActive) return false; // do not ship a snapshot to a member that may be down
    let snap: Snapshot;
    try {
      snap = this.raftLog.snapshot();
    } catch {
      return false; // temporarily unavailable: retried on the next heartbeat response
    }
    if (snap.metadata.index === 0) {
      this.logEvent(`cannot catch up ${to}: its entries are compacted but there is no snapshot yet`);
      return false;
    }
    this.logEvent(`sends snapshot at index ${snap.metadata.index} to ${to} (${pr})`);
    pr.becomeSnapshot(snap.metadata.index);
    this.send(message({ type: 'MsgSnap', to, snapshot: snap }));
    return true;
  }

  private sendHeartbeat(to: number, ctx: Uint8Array | undefined): void {
    // Never tell a follower to commit past what it is known to have: it may not have those entries yet.
    const commit = Math.min(this.prs.progress.get(to)!.match, this.raftLog.committed);
    this.send(message({ type: 'MsgHeartbeat', to, commit, context: ctx }));
  }

  private forEachPeer(fn: (id: number) => void): void {
    for (const id of [...this.prs.progress.keys()].sort((a, b) => a - b)) if (id !== this.id) fn(id);
  }

  bcastAppend(): void {
    this.forEachPeer((id) => this.sendAppend(id));
  }

  bcastHeartbeat(): void {
    this.bcastHeartbeatWithCtx(this.readOnly.lastPendingCtx());
  }

  private bcastHeartbeatWithCtx(ctx: Uint8Array | undefined): void {
    this.forEachPeer((id) => this.sendHeartbeat(id, ctx));
  }

  // ---- log ----

  /** Leader: commit what a quorum has, if it is of the current term. */
  maybeCommit(): boolean {
    const mci = Math.min(this.prs.committed(), this.raftLog.lastIndex());
    return this.raftLog.maybeCommit(mci, this.term);
  }

  appendEntry(es: Entry[]): void {
    let li = this.raftLog.lastIndex();
    for (const e of es) {
      e.term = this.term;
      e.index = ++li;
    }
    li = this.raftLog.append(es);
    this.prs.progress.get(this.id)?.maybeUpdate(li);
    this.maybeCommit(); // the caller broadcasts either way
  }

  /** Admit entries against the uncommitted budget. An empty budget always admits one batch, so progress is possible. */
  increaseUncommittedSize(es: Entry[]): boolean {
    let s = 0;
    for (const e of es) s += e.data.byteLength;
    if (this.uncommittedSize > 0 && s > 0 && this.maxUncommittedSize > 0 && this.uncommittedSize + s > this.maxUncommittedSize) {
      return false;
    }
    this.uncommittedSize += s;
    return true;
  }

  /** Entries were committed (and handed to the application): release their share of the budget. */
  reduceUncommittedSize(es: Entry[]): void {
    if (this.uncommittedSize === 0) return;
    let s = 0;
    for (const e of es) s += e.data.byteLength;
    this.uncommittedSize = Math.max(0, this.uncommittedSize - s);
  }

  // ---- roles ----

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.prs.resetVotes();
    const last = this.raftLog.lastIndex();
    for (const [id, pr] of this.prs.progress) {
      const fresh = new Progress(last + 1, this.prs.maxInflight, pr.isLearner);
      if (id === this.id) fresh.match = last;
      this.prs.progress.set(id, fresh);
    }
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    this.readOnly = new ReadOnly();
    this.pendingReadIndexMessages = [];
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.electionTimeout + this.rand.intn(this.electionTimeout);
  }

  becomeFollower(term: number, lead: number): void {
    this.stepFn = stepFollower;
    this.reset(term);
    this.tickFn = () => this.tickElection();
    this.lead = lead;
    this.state = 'Follower';
    this.logEvent(`became follower at term ${term}${lead !== NONE ? `, leader ${lead}` : ''}`);
  }

  becomeCandidate(): void {
    if (this.state === 'Leader') throw new Error('raft: invalid transition [leader -> candidate]');
    this.stepFn = stepCandidate;
    this.reset(this.term + 1);
    this.tickFn = () => this.tickElection();
    this.vote = this.id;
    this.state = 'Candidate';
    this.logEvent(`became candidate at term ${this.term}`);
  }

  becomePreCandidate(): void {
    if (this.state === 'Leader') throw new Error('raft: invalid transition [leader -> pre-candidate]');
    // A pre-candidate changes neither term nor vote: it only asks whether it could win.
    this.stepFn = stepCandidate;
    this.prs.resetVotes();
    this.tickFn = () => this.tickElection();
    this.lead = NONE;
    this.state = 'PreCandidate';
    this.logEvent(`became pre-candidate at term ${this.term}`);
  }

  becomeLeader(): void {
    if (this.state === 'Follower') throw new Error('raft: invalid transition [follower -> leader]');
    this.stepFn = stepLeader;
    this.reset(this.term);
    this.tickFn = () => this.tickHeartbeat();
    this.lead = this.id;
    this.state = 'Leader';
    this.prs.progress.get(this.id)?.becomeReplicate();
    // Conf changes in the uncommitted tail may still be pending; be conservative until they are applied.
    this.pendingConfIndex = this.raftLog.lastIndex();
    // An entry of our own term: committing it commits everything before it, and enables ReadIndex.
    this.appendEntry([{ term: 0, index: 0, type: 'Normal', data: new Uint8Array(0) }]);
    this.logEvent(`became leader at term ${this.term}`);
  }

  // ---- ticks ----

  tick(): void {
    this.tickFn();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.step(message({ type: 'MsgHup', from: this.id }));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step(message({ type: 'MsgCheckQuorum', from: this.id }));
      // A transfer that did not finish within an election timeout is abandoned, so proposals flow again.
      if (this.state === 'Leader' && this.leadTransferee !== NONE) this.abortLeaderTransfer();
    }
    if (this.state !== 'Leader') return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.step(message({ type: 'MsgBeat', from: this.id }));
    }
  }

  // ---- elections ----

  hup(t: CampaignType): void {
    if (this.state === 'Leader') return;
    if (!this.promotable()) {
      this.logEvent('is not a voter and cannot campaign');
      return;
    }
    // A member must not campaign while it has committed but unapplied conf changes: its view of the voters is stale.
    if (this.raftLog.applied < this.raftLog.committed) {
      const ents = this.raftLog.slice(Math.max(this.raftLog.applied + 1, this.raftLog.firstIndex()), this.raftLog.committed + 1);
      if (ents.some((e) => e.type === 'ConfChange')) {
        this.logEvent('cannot campaign: committed conf changes are not applied yet');
        return;
      }
    }
    this.campaign(t);
  }

  campaign(t: CampaignType): void {
    if (!this.promotable()) return;
    let term: number;
    let voteMsg: MessageType;
    if (t === 'PreElection') {
      this.becomePreCandidate();
      voteMsg = 'MsgPreVote';
      term = this.term + 1; // the term we would campaign in
    } else {
      this.becomeCandidate();
      voteMsg = 'MsgVote';
      term = this.term;
    }
    const respType: MessageType = voteMsg === 'MsgVote' ? 'MsgVoteResp' : 'MsgPreVoteResp';
    if (this.poll(this.id, respType, true) === 'Won') {
      // Single voter: won immediately.
      if (t === 'PreElection') this.campaign('Election');
      else this.becomeLeader();
      return;
    }
    for (const id of this.prs.voters()) {
      if (id === this.id) continue;
      this.send(message({
        type: voteMsg, to: id, term, index: this.raftLog.lastIndex(), logTerm: this.raftLog.lastTerm(),
        context: t === 'Transfer' ? CAMPAIGN_TRANSFER : undefined,
      }));
    }
  }

  poll(id: number, t: MessageType, granted: boolean): 'Won' | 'Lost' | 'Pending' {
    this.logEvent(`${granted ? 'received' : 'rejected'} ${t} from ${id}`);
    this.prs.recordVote(id, granted);
    return this.prs.tallyVotes().result;
  }

  // ---- stepping ----

  /** Feed one message. Returns a ProposalDroppedError when a proposal, read or transfer could not be accepted. */
  step(m: Message): StepResult {
    if (m.term === 0) {
      // local message
    } else if (m.term > this.term) {
      if (m.type === 'MsgVote' || m.type === 'MsgPreVote') {
        const force = sameBytes(m.context, CAMPAIGN_TRANSFER);
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout;
        if (!force && inLease) {
          // We heard from a live leader within the minimum election timeout: ignore the disruption.
          this.logEvent(`ignores ${m.type} from ${m.from} at term ${m.term}: lease with leader ${this.lead} not expired`);
          return undefined;
        }
      }
      if (m.type === 'MsgPreVote') {
        // Never change term in response to a pre-vote.
      } else if (m.type === 'MsgPreVoteResp' && !m.reject) {
        // Granted pre-votes carry the future term; our term changes only when we actually campaign.
      } else {
        const fromLeader = m.type === 'MsgApp' || m.type === 'MsgHeartbeat' || m.type === 'MsgSnap';
        this.becomeFollower(m.term, fromLeader ? m.from : NONE);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === 'MsgHeartbeat' || m.type === 'MsgApp')) {
        // A stale leader (e.g. back from a partition): tell it our term so it steps down. Without this, with
        // check-quorum or pre-vote, the cluster could stall because nobody raises the term past it.
        this.send(message({ type: 'MsgAppResp', to: m.from }));
      } else if (m.type === 'MsgPreVote') {
        this.send(message({ type: 'MsgPreVoteResp', to: m.from, term: this.term, reject: true }));
      }
      return undefined;
    }

    switch (m.type) {
      case 'MsgHup':
        this.hup(this.preVote ? 'PreElection' : 'Election');
        return undefined;
      case 'MsgVote':
      case 'MsgPreVote': {
        const canVote = this.vote === m.from ||
          (this.vote === NONE && this.lead === NONE) ||
          (m.type === 'MsgPreVote' && m.term > this.term);
        const respType: MessageType = m.type === 'MsgVote' ? 'MsgVoteResp' : 'MsgPreVoteResp';
        if (canVote && this.raftLog.isUpToDate(m.index, m.logTerm)) {
          this.logEvent(`grants ${m.type} to ${m.from} for term ${m.term}`);
          // Reply with the term of the request, so a pre-candidate recognises the answer to its future term.
          this.send(message({ type: respType, to: m.from, term: m.term }));
          if (m.type === 'MsgVote') {
            this.electionElapsed = 0;
            this.vote = m.from;
          }
        } else {
          this.send(message({ type: respType, to: m.from, term: this.term, reject: true }));
        }
        return undefined;
      }
      default:
        return this.stepFn(this, m);
    }
  }

  handleAppendEntries(m: Message): void {
    if (m.index < this.raftLog.committed) {
      this.send(message({ type: 'MsgAppResp', to: m.from, index: this.raftLog.committed }));
      return;
    }
    const lastNew = this.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.send(message({ type: 'MsgAppResp', to: m.from, index: lastNew }));
      return;
    }
    // Reject with a hint: our last index at or below m.index whose term is <= the leader's term there. The leader
    // can then skip every entry of a diverging term in one round trip.
    const hint = this.raftLog.findConflictByTerm(Math.min(m.index, this.raftLog.lastIndex()), m.logTerm);
    this.send(message({
      type: 'MsgAppResp', to: m.from, index: m.index, reject: true, rejectHint: hint.index, logTerm: hint.term,
    }));
  }

  handleHeartbeat(m: Message): void {
    // The leader never sends a commit past our known match; if we hold less, our log lost a tail (e.g. a torn
    // WAL): commit only what we have rather than fail.
    this.raftLog.commitTo(Math.min(m.commit, this.raftLog.lastIndex()));
    this.send(message({ type: 'MsgHeartbeatResp', to: m.from, context: m.context }));
  }

  handleSnapshot(m: Message): void {
    const s = m.snapshot!;
    if (this.restore(s)) {
      this.logEvent(`restored snapshot at index ${s.metadata.index}`);
      this.send(message({ type: 'MsgAppResp', to: m.from, index: this.raftLog.lastIndex() }));
    } else {
      this.send(message({ type: 'MsgAppResp', to: m.from, index: this.raftLog.committed }));
    }
  }

  /** Install a snapshot from the leader. Returns false if it was stale or already covered by our log. */
  restore(s: Snapshot): boolean {
    if (s.metadata.index <= this.raftLog.committed) return false;
    if (this.state !== 'Follower') {
      // Only a leader of this term sends snapshots; being anything but a follower here is a bug elsewhere.
      this.becomeFollower(this.term + 1, NONE);
      return false;
    }
    const cs = s.metadata.confState;
    if (!cs.voters.includes(this.id) && !cs.learners.includes(this.id)) {
      // A member added after the snapshot was taken: it learns of its own addition from the entries that
      // follow the snapshot. Until then it is not a voter, so it cannot campaign. (etcd-io/raft refuses such a
      // snapshot and relies on the application to send a newer one; accepting it is equally safe and needs no
      // such coordination.)
      this.logEvent(`restores snapshot at index ${s.metadata.index} whose membership ${JSON.stringify(cs)} predates it`);
    }
    if (this.raftLog.matchTerm(s.metadata.index, s.metadata.term)) {
      // We already have the entries; just fast-forward the commit index.
      this.raftLog.commitTo(s.metadata.index);
      return false;
    }
    this.raftLog.restore(s);
    this.prs.progress.clear();
    this.applyConfState(cs);
    return true;
  }

  private applyConfState(cs: ConfState): void {
    const next = this.raftLog.lastIndex() + 1;
    for (const id of cs.voters) this.prs.progress.set(id, new Progress(next, this.prs.maxInflight, false));
    for (const id of cs.learners) this.prs.progress.set(id, new Progress(next, this.prs.maxInflight, true));
    const self = this.prs.progress.get(this.id);
    if (self) self.match = next - 1;
  }

  /** Apply a committed conf change (the driver calls this when it applies a ConfChange entry). */
  applyConfChange(cc: ConfChange): ConfState {
    const id = cc.nodeId;
    const pr = this.prs.progress.get(id);
    switch (cc.type) {
      case 'AddNode':
        if (pr) pr.isLearner = false; // promote a learner
        else this.addProgress(id, false);
        break;
      case 'AddLearnerNode':
        if (pr) {
          if (!pr.isLearner && this.prs.voters().length === 1) break; // never demote the last voter
          pr.isLearner = true;
        } else {
          this.addProgress(id, true);
        }
        break;
      case 'RemoveNode':
        if (pr && !(this.prs.voters().length === 1 && !pr.isLearner)) this.prs.progress.delete(id);
        break;
    }
    this.logEvent(`applied conf change ${cc.type} ${id}: voters ${this.prs.voters()} learners ${this.prs.learners()}`);
    if (this.state === 'Leader') {
      if (!this.prs.isVoter(this.id)) {
        // This leader was removed (or demoted): step down and let the remaining voters elect a new leader.
        this.becomeFollower(this.term, NONE);
      } else {
        // The quorum may have changed: commit what the new quorum has, and feed new members.
        if (this.maybeCommit()) this.bcastAppend();
        else this.forEachPeer((p) => this.maybeSendAppend(p, false));
        if (this.leadTransferee !== NONE && !this.prs.isVoter(this.leadTransferee)) this.abortLeaderTransfer();
      }
    }
    return this.prs.confState();
  }

  private addProgress(id: number, isLearner: boolean): void {
    const pr = new Progress(this.raftLog.lastIndex() + 1, this.prs.maxInflight, isLearner);
    // A new member counts as active, so the leader may send it a snapshot before hearing from it.
    pr.recentActive = true;
    if (id === this.id) pr.match = this.raftLog.lastIndex();
    this.prs.progress.set(id, pr);
  }

  // ---- leader transfer and reads ----

  abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
  }

  sendTimeoutNow(to: number): void {
    this.send(message({ type: 'MsgTimeoutNow', to }));
  }

  committedEntryInCurrentTerm(): boolean {
    return this.raftLog.zeroTermOnOutOfBounds(this.raftLog.committed) === this.term;
  }

  /** Answer a ReadIndex request, to ourselves (readStates) or to the follower that forwarded it. */
  responseToReadIndexReq(req: Message, readIndex: number): void {
    if (req.from === NONE || req.from === this.id) {
      this.readStates.push({ index: readIndex, requestCtx: req.context ?? new Uint8Array(0) });
      return;
    }
    this.send(message({ type: 'MsgReadIndexResp', to: req.from, index: readIndex, context: req.context }));
  }

  releasePendingReadIndexMessages(): void {
    if (this.pendingReadIndexMessages.length === 0 || !this.committedEntryInCurrentTerm()) return;
    const msgs = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of msgs) sendMsgReadIndexResponse(this, m);
  }
}

function sendMsgReadIndexResponse(r: Raft, m: Message): void {
  if (r.prs.voters().length <= 1) {
    // A single voter is trivially still the leader.
    r.responseToReadIndexReq(m, r.raftLog.committed);
    return;
  }
  // Remember the commit index now, then confirm leadership with a heartbeat round carrying the request context.
  r.readOnly.add(r.raftLog.committed, m);
  r.readOnly.recvAck(r.id, m.context);
  r.bcastHeartbeat();
}

function stepLeader(r: Raft, m: Message): StepResult {
  switch (m.type) {
    case 'MsgBeat':
      r.bcastHeartbeat();
      return undefined;
    case 'MsgCheckQuorum':
      r.prs.progress.get(r.id)!.recentActive = true; // ourselves, always
      if (!r.prs.quorumActive()) {
        r.becomeFollower(r.term, NONE);
        return undefined;
      }
      for (const [id, pr] of r.prs.progress) if (id !== r.id) pr.recentActive = false;
      return undefined;
    case 'MsgProp': {
      if (m.entries.length === 0) return new ProposalDroppedError('proposal has no entries');
      if (!r.prs.progress.has(r.id)) return new ProposalDroppedError(`member ${r.id} was removed from the cluster`);
      if (r.leadTransferee !== NONE) {
        return new ProposalDroppedError(`leadership is being transferred to ${r.leadTransferee}`);
      }
      for (let i = 0; i < m.entries.length; i++) {
        const e = m.entries[i];
        if (e.type !== 'ConfChange') continue;
        let why = '';
        if (r.pendingConfIndex > r.raftLog.applied) {
          why = `a previous conf change at index ${r.pendingConfIndex} is not applied yet (applied ${r.raftLog.applied})`;
        } else {
          try {
            decodeConfChange(e.data);
          } catch (err) {
            why = (err as Error).message;
          }
        }
        if (why) {
          // Keep the entry (the proposer's index bookkeeping) but make it a no-op, as upstream does.
          r.logEvent(`ignores conf change: ${why}`);
          m.entries[i] = { term: 0, index: 0, type: 'Normal', data: new Uint8Array(0) };
        } else {
          r.pendingConfIndex = r.raftLog.lastIndex() + i + 1;
        }
      }
      if (!r.increaseUncommittedSize(m.entries)) {
        return new ProposalDroppedError(`too many uncommitted entries (${r.uncommittedSize} bytes pending, limit ${r.maxUncommittedSize})`);
      }
      r.appendEntry(m.entries);
      r.bcastAppend();
      return undefined;
    }
    case 'MsgReadIndex':
      if (!r.committedEntryInCurrentTerm()) {
        // Our commit index may be stale until an entry of our term commits; answer then.
        r.pendingReadIndexMessages.push(m);
        return undefined;
      }
      sendMsgReadIndexResponse(r, m);
      return undefined;
  }

  const pr = r.prs.progress.get(m.from);
  if (!pr) {
    return m.type === 'MsgTransferLeader' ? new ProposalDroppedError(`cannot transfer leadership to unknown member ${m.from}`) : undefined;
  }
  switch (m.type) {
    case 'MsgAppResp': {
      pr.recentActive = true;
      if (m.reject) {
        let nextProbeIdx = m.rejectHint;
        if (m.logTerm > 0) {
          // The follower told us the term at its hint; skip back to the last entry we have at or below that term.
          nextProbeIdx = r.raftLog.findConflictByTerm(m.rejectHint, m.logTerm).index;
        }
        if (pr.maybeDecrTo(m.index, nextProbeIdx)) {
          if (pr.state === 'Replicate') pr.becomeProbe();
          r.sendAppend(m.from);
        }
        return undefined;
      }
      const oldPaused = pr.isPaused();
      if (!pr.maybeUpdate(m.index)) return undefined;
      if (pr.state === 'Probe') {
        pr.becomeReplicate();
      } else if (pr.state === 'Snapshot' && pr.match + 1 >= r.raftLog.firstIndex()) {
        // The snapshot got the follower far enough that plain appends can continue.
        pr.becomeProbe();
        pr.becomeReplicate();
      } else if (pr.state === 'Replicate') {
        pr.inflights.freeLE(m.index);
      }
      if (r.maybeCommit()) {
        r.releasePendingReadIndexMessages();
        r.bcastAppend();
      } else if (oldPaused) {
        r.sendAppend(m.from);
      }
      // Fill the window while there is more to send.
      while (r.maybeSendAppend(m.from, false)) { /* keep sending */ }
      if (m.from === r.leadTransferee && pr.match === r.raftLog.lastIndex()) {
        r.logEvent(`sends MsgTimeoutNow to ${m.from}: its log is up to date`);
        r.sendTimeoutNow(m.from);
      }
      return undefined;
    }
    case 'MsgHeartbeatResp': {
      pr.recentActive = true;
      pr.msgAppFlowPaused = false;
      // A full window may mean appends were lost on the wire: free one slot so replication resumes (a gap then
      // makes the follower reject, which sends us back to probing from its match).
      if (pr.state === 'Replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
      if (pr.match < r.raftLog.lastIndex() || pr.state === 'Probe') r.sendAppend(m.from);
      if (!m.context || m.context.byteLength === 0) return undefined;
      const acks = r.readOnly.recvAck(m.from, m.context);
      if (!acks || r.prs.voteResult(acks) !== 'Won') return undefined;
      for (const rs of r.readOnly.advance(m.context)) r.responseToReadIndexReq(rs.req, rs.index);
      return undefined;
    }
    case 'MsgSnapStatus':
      if (pr.state !== 'Snapshot') return undefined;
      if (m.reject) pr.pendingSnapshot = 0; // failed: start over from probing
      pr.becomeProbe();
      // Wait for a heartbeat response before probing, so a failed snapshot is not retried in a tight loop.
      pr.msgAppFlowPaused = true;
      return undefined;
    case 'MsgUnreachable':
      if (pr.state === 'Replicate') pr.becomeProbe();
      return undefined;
    case 'MsgTransferLeader': {
      if (pr.isLearner) return new ProposalDroppedError(`member ${m.from} is a learner and cannot lead`);
      const transferee = m.from;
      if (r.leadTransferee !== NONE) {
        if (r.leadTransferee === transferee) return undefined; // already in progress
        r.abortLeaderTransfer();
      }
      if (transferee === r.id) return undefined; // already leader
      // The transfer must finish within an election timeout.
      r.electionElapsed = 0;
      r.leadTransferee = transferee;
      if (pr.match === r.raftLog.lastIndex()) r.sendTimeoutNow(transferee);
      else r.sendAppend(transferee);
      return undefined;
    }
  }
  return undefined;
}

function stepCandidate(r: Raft, m: Message): StepResult {
  const myVoteResp: MessageType = r.state === 'PreCandidate' ? 'MsgPreVoteResp' : 'MsgVoteResp';
  switch (m.type) {
    case 'MsgProp':
      return new ProposalDroppedError('no leader (election in progress)');
    case 'MsgApp':
      r.becomeFollower(m.term, m.from); // a leader of our term exists
      r.handleAppendEntries(m);
      return undefined;
    case 'MsgHeartbeat':
      r.becomeFollower(m.term, m.from);
      r.handleHeartbeat(m);
      return undefined;
    case 'MsgSnap':
      r.becomeFollower(m.term, m.from);
      r.handleSnapshot(m);
      return undefined;
    case 'MsgTimeoutNow':
      return undefined;
    case 'MsgReadIndex':
    case 'MsgTransferLeader':
      return new ProposalDroppedError('no leader (election in progress)');
  }
  if (m.type === myVoteResp) {
    const res = r.poll(m.from, m.type, !m.reject);
    if (res === 'Won') {
      if (r.state === 'PreCandidate') {
        r.campaign('Election');
      } else {
        r.becomeLeader();
        r.bcastAppend();
      }
    } else if (res === 'Lost') {
      // MsgPreVoteResp may carry a higher term (a reject); becomeFollower at our term is right for both.
      r.becomeFollower(r.term, NONE);
    }
  }
  return undefined;
}

function stepFollower(r: Raft, m: Message): StepResult {
  switch (m.type) {
    case 'MsgProp':
      if (r.lead === NONE) return new ProposalDroppedError('no leader');
      m.to = r.lead;
      r.send(m);
      return undefined;
    case 'MsgApp':
      r.electionElapsed = 0;
      r.lead = m.from;
      r.handleAppendEntries(m);
      return undefined;
    case 'MsgHeartbeat':
      r.electionElapsed = 0;
      r.lead = m.from;
      r.handleHeartbeat(m);
      return undefined;
    case 'MsgSnap':
      r.electionElapsed = 0;
      r.lead = m.from;
      r.handleSnapshot(m);
      return undefined;
    case 'MsgTransferLeader':
      if (r.lead === NONE) return new ProposalDroppedError('no leader to transfer leadership from');
      m.to = r.lead;
      r.send(m);
      return undefined;
    case 'MsgTimeoutNow':
      // The leader asks us to campaign now, skipping pre-vote and leases: it is handing over.
      r.logEvent(`received MsgTimeoutNow from ${m.from}, campaigning`);
      r.hup('Transfer');
      return undefined;
    case 'MsgReadIndex':
      if (r.lead === NONE) return new ProposalDroppedError('no leader to serve a read index');
      m.to = r.lead;
      r.send(m);
      return undefined;
    case 'MsgReadIndexResp':
      r.readStates.push({ index: m.index, requestCtx: m.context ?? new Uint8Array(0) });
      return undefined;
  }
  return undefined;
}
