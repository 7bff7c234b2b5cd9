// The seam between the etcd server and whatever orders its writes. The server proposes encoded requests;
// the consensus calls apply() for each committed entry, in log order, on every member (and on replay after
// a restart). A single member orders by its own WAL (single-member.ts); a cluster by Raft (raft-member.ts).
import type { SnapshotWriter } from '../snap/index.ts';

export interface ConsensusStatus {
  memberId: string;
  /** '0' when no leader is known. */
  leaderId: string;
  term: number;
  commitIndex: number;
  appliedIndex: number;
}

/** What the consensus drives: the replicated state machine. */
export interface StateMachine {
  apply(data: Uint8Array, index: number): void;
  /** The whole state, for Raft snapshots: as of the call, though the writer produces the bytes later. */
  snapshot(): SnapshotWriter;
  /** Replace the whole state with a snapshot's. */
  restore(data: Uint8Array): void;
}

export interface Consensus {
  /** Replay what is durable through the state machine, then begin accepting proposals. */
  start(sm: StateMachine): Promise<void>;
  /**
   * Queue data for the log; it is applied (on this member too) once committed. Throws EtcdError when it can
   * tell at once (stopped, no leader); `dropped` is called if the proposal is refused later (proposals are
   * batched, so a refusal can come after the call returned).
   */
  propose(data: Uint8Array, dropped?: (err: Error) => void): void;
  /** Resolves once this member has applied everything committed before the call (linearizable read barrier). */
  readIndex(): Promise<void>;
  isLeader(): boolean;
  status(): ConsensusStatus;
  /** Called when this member gains or loses leadership. */
  onLeaderChange: (isLeader: boolean) => void;
  /** Ask the leader to renew a lease (followers forward keep-alives): TTL, or 0 for an unknown lease. */
  forwardLeaseRenew?(id: string): Promise<number>;
  /** Ask the leader for a lease's remaining seconds, or -1. */
  forwardLeaseRemaining?(id: string): Promise<number>;
  /** Set by the server: how the leader answers lease calls forwarded by followers. */
  leaseHandlers?: { renew(id: string): Promise<number>; remaining(id: string): Promise<number> };
  stop(): Promise<void>;
}
