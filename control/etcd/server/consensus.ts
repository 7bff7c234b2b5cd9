// The seam between the etcd server and whatever orders its writes. The server proposes encoded requests;
// the consensus calls apply() for each committed entry, in log order, on every member (and on replay after
// a restart). A single member orders by its own WAL; a cluster orders by Raft (raft-member.ts).

export interface ConsensusStatus {
  memberId: string;
  leaderId: string;
  term: number;
  commitIndex: number;
  appliedIndex: number;
}

export interface Consensus {
  /** Replay what is durable through apply, then begin accepting proposals. */
  start(apply: (data: Uint8Array, index: number) => void): Promise<void>;
  /** Queue data for the log; it is applied (on this member too) once committed. Throws EtcdError without a leader. */
  propose(data: Uint8Array): void;
  /** Resolves once this member has applied everything committed before the call (linearizable read barrier). */
  readIndex(): Promise<void>;
  isLeader(): boolean;
  status(): ConsensusStatus;
  /** Called when this member gains or loses leadership. */
  onLeaderChange: (isLeader: boolean) => void;
  stop(): Promise<void>;
}
