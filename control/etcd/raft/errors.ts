// Errors the Raft core and its storage raise. The driver can tell them apart with instanceof.

/** The requested index is older than the storage's first index: it was compacted into a snapshot. */
export class CompactedError extends Error {
  constructor(index: number, firstIndex: number) {
    super(`raft storage: index ${index} is compacted (first available index is ${firstIndex})`);
    this.name = 'CompactedError';
  }
}

/** The requested index is past the storage's last index. */
export class UnavailableError extends Error {
  constructor(index: number, lastIndex: number) {
    super(`raft storage: index ${index} is unavailable (last index is ${lastIndex})`);
    this.name = 'UnavailableError';
  }
}

/** The snapshot being applied is older than the one already held. */
export class SnapshotOutOfDateError extends Error {
  constructor(index: number, current: number) {
    super(`raft storage: snapshot at index ${index} is older than the current snapshot at index ${current}`);
    this.name = 'SnapshotOutOfDateError';
  }
}

/** The storage cannot produce a snapshot right now; the leader retries later. */
export class SnapshotTemporarilyUnavailableError extends Error {
  constructor() {
    super('raft storage: snapshot is temporarily unavailable');
    this.name = 'SnapshotTemporarilyUnavailableError';
  }
}

/**
 * A proposal (entry, conf change, read, transfer) was not accepted: there is no leader, a leader transfer is in
 * progress, or this member was removed. The client should retry, possibly against another member.
 */
export class ProposalDroppedError extends Error {
  constructor(why: string) {
    super(`raft proposal dropped: ${why}`);
    this.name = 'ProposalDroppedError';
  }
}

/** The configuration given to the core is unusable. */
export class RaftConfigError extends Error {
  constructor(why: string) {
    super(`raft config: ${why}`);
    this.name = 'RaftConfigError';
  }
}

/** A message from the network is malformed; it was not stepped. The transport should log it and go on. */
export class InvalidMessageError extends Error {
  constructor(why: string) {
    super(`raft: invalid message: ${why}`);
    this.name = 'InvalidMessageError';
  }
}
