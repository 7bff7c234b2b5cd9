// What the leader knows about each member's log (match/next), the replication state machine per member
// (Probe: one MsgApp per heartbeat until the match is found; Replicate: pipelined, bounded by the inflight
// window; Snapshot: waiting for a snapshot to be installed), votes, and quorum arithmetic.
import type { ConfState } from './types.ts';

export type ProgressState = 'Probe' | 'Replicate' | 'Snapshot';

/** Sliding window of the last index of each MsgApp in flight, capped to limit memory and bandwidth. */
export class Inflights {
  private readonly buf: number[] = [];
  readonly size: number;
  constructor(size: number) {
    this.size = size;
  }
  add(lastIndex: number): void {
    if (this.full()) throw new Error('inflights: cannot add into a full window');
    this.buf.push(lastIndex);
  }
  /** An acknowledgement up to `to` frees every message ending at or before it. */
  freeLE(to: number): void {
    let n = 0;
    while (n < this.buf.length && this.buf[n] <= to) n++;
    if (n > 0) this.buf.splice(0, n);
  }
  freeFirstOne(): void {
    this.buf.shift();
  }
  full(): boolean {
    return this.buf.length >= this.size;
  }
  count(): number {
    return this.buf.length;
  }
  reset(): void {
    this.buf.length = 0;
  }
}

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'Probe';
  /** Index of the snapshot being sent, while in Snapshot state. */
  pendingSnapshot = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** Probe state: a MsgApp is out, send no more until a heartbeat response (or an acceptance) arrives. */
  msgAppFlowPaused = false;
  readonly inflights: Inflights;
  isLearner: boolean;

  constructor(next: number, maxInflight: number, isLearner: boolean) {
    this.next = next;
    this.inflights = new Inflights(maxInflight);
    this.isLearner = isLearner;
  }

  private resetState(state: ProgressState): void {
    this.msgAppFlowPaused = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === 'Snapshot') {
      // The snapshot was installed (or failed): resume right after it.
      const pending = this.pendingSnapshot;
      this.resetState('Probe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState('Probe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState('Replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('Snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /** A MsgApp carrying entries up to lastIndex was sent (lastIndex undefined: it carried none). */
  sentEntries(lastIndex: number | undefined): void {
    if (this.state === 'Replicate') {
      if (lastIndex !== undefined) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex);
      }
    } else if (this.state === 'Probe') {
      this.msgAppFlowPaused = true;
    }
  }

  /** An acceptance up to n arrived. Returns false if it was stale. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.msgAppFlowPaused = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /**
   * A rejection of the MsgApp whose previous index was `rejected`; matchHint is the follower's (or the
   * term-adjusted) guess of the highest index that might match. Returns false if the rejection is stale.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'Replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.msgAppFlowPaused = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'Probe': return this.msgAppFlowPaused;
      case 'Replicate': return this.inflights.full();
      case 'Snapshot': return true;
    }
  }

  toString(): string {
    return `${this.state} match=${this.match} next=${this.next}` +
      (this.isLearner ? ' learner' : '') + (this.state === 'Snapshot' ? ` pendingSnap=${this.pendingSnapshot}` : '') +
      (this.msgAppFlowPaused ? ' paused' : '') + (this.inflights.count() ? ` inflight=${this.inflights.count()}` : '');
  }
}

export type VoteResult = 'Won' | 'Lost' | 'Pending';

/** Progress of every member, the current configuration (voters and learners) and the votes of an election. */
export class ProgressTracker {
  readonly progress = new Map<number, Progress>();
  readonly votes = new Map<number, boolean>();
  readonly maxInflight: number;

  constructor(maxInflight: number) {
    this.maxInflight = maxInflight;
  }

  voters(): number[] {
    return [...this.progress].filter(([, p]) => !p.isLearner).map(([id]) => id).sort((a, b) => a - b);
  }

  learners(): number[] {
    return [...this.progress].filter(([, p]) => p.isLearner).map(([id]) => id).sort((a, b) => a - b);
  }

  confState(): ConfState {
    return { voters: this.voters(), learners: this.learners() };
  }

  isVoter(id: number): boolean {
    const p = this.progress.get(id);
    return p !== undefined && !p.isLearner;
  }

  /** The largest index that a quorum of voters has in its log. */
  committed(): number {
    const matches: number[] = [];
    for (const pr of this.progress.values()) if (!pr.isLearner) matches.push(pr.match);
    matches.sort((a, b) => b - a);
    if (matches.length === 0) return Infinity; // no voters: nothing to wait for (the caller clamps to its log)
    return matches[Math.floor(matches.length / 2)];
  }

  resetVotes(): void {
    this.votes.clear();
  }

  recordVote(id: number, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.voters()) {
      const v = this.votes.get(id);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    return { granted, rejected, result: this.voteResult(new Map([...this.votes])) };
  }

  /** Won once a majority of voters said yes; Lost once a majority can no longer be reached. */
  voteResult(votes: ReadonlyMap<number, boolean>): VoteResult {
    const voters = this.voters();
    if (voters.length === 0) return 'Won';
    const q = Math.floor(voters.length / 2) + 1;
    let yes = 0;
    let missing = 0;
    for (const id of voters) {
      const v = votes.get(id);
      if (v === true) yes++;
      else if (v === undefined) missing++;
    }
    if (yes >= q) return 'Won';
    if (yes + missing >= q) return 'Pending';
    return 'Lost';
  }

  /** Have a majority of voters been heard from recently? (check-quorum) */
  quorumActive(): boolean {
    const votes = new Map<number, boolean>();
    for (const id of this.voters()) votes.set(id, this.progress.get(id)!.recentActive);
    return this.voteResult(votes) === 'Won';
  }
}
