// kts etcd Raft core: a pure, deterministic Raft state machine (design after etcd-io/raft).
//
// The core has no timers, sockets, files, awaits or randomness of its own. The driver owns all of those:
// it calls tick() on a timer, step() for every message from a peer, propose()/readIndex()/... for requests,
// and repeatedly collects a Ready with everything the core wants done.
//
// ## Starting a member
//
//   import { RawNode, seededRand } from './control/etcd/raft/index.ts';
//   import { RaftDisk, memberDirs } from './control/etcd/wal/index.ts';
//
//   const { disk, storage, snapshot, fresh } = await RaftDisk.open({ ...memberDirs(dataDir), metadata });
//   if (snapshot) restoreStateMachine(snapshot.data);            // snapshot.metadata.index is the applied index
//   const node = new RawNode({
//     id, storage, electionTick: 10, heartbeatTick: 1,           // e.g. 100 ms ticks: 1 s election, 100 ms heartbeat
//     rand: seededRand(crypto.getRandomValues(new Uint32Array(1))[0]),
//     applied: snapshot?.metadata.index,                          // entries up to here are already applied
//   });
//   if (fresh && newCluster) node.bootstrap({ voters: [1, 2, 3] }); // initial members, written to the log
//   // fresh && joining: start empty; the leader sends the log (or a snapshot) after AddNode is committed.
//
// ## The Ready loop (one at a time; never call ready() again before advance())
//
//   setInterval(() => { node.tick(); kick(); }, 100);
//   transport.onMessage = (m) => { try { node.step(m) } catch (e) { log(e) } kick(); }  // InvalidMessageError
//
//   async function loop() {                                      // run whenever kick() is called
//     while (node.hasReady()) {
//       const rd = node.ready();
//       await disk.persist(rd);                                  // 1. snapshot, hardState, entries: fsync'd (WAL)
//       transport.send(rd.messages);                             // 2. only after they are durable
//       if (rd.snapshot) restoreStateMachine(rd.snapshot.data);  // 3. apply, in order
//       for (const e of rd.committedEntries) {
//         if (e.type === 'ConfChange') { const cs = node.applyConfChange(decodeConfChange(e.data)); ... }
//         else if (e.data.byteLength > 0) applyToStateMachine(e.data, e.index);  // empty = leader's no-op
//       }
//       for (const rs of rd.readStates) serveReadWhenApplied(rs.requestCtx, rs.index);
//       node.advance();                                          // 4. acknowledge
//     }
//   }
//
// Order matters: a member must never send a message (a vote, an append acknowledgement) that promises state
// it has not yet made durable, and it must not apply entries it has not persisted. rd.mustSync says whether the
// write needs an fsync at all (only a commit-index change does not).
//
// ## Requests
//
//   node.propose(data)                 // throws ProposalDroppedError (no leader, transfer in progress, removed)
//   node.readIndex(uniqueCtx)          // a ReadState with the same ctx arrives in a later Ready; serve the read
//                                      // once the applied index reaches rs.index (linearizable, no log write)
//   node.proposeConfChange({ type: 'AddNode' | 'RemoveNode' | 'AddLearnerNode', nodeId })  // one at a time
//   node.transferLeader(id)            // leader hands over via MsgTimeoutNow once id has caught up
//   node.campaign()                    // start an election now
//   node.status()                      // term, vote, commit, applied, lead, role, per-member progress (leader)
//
// ## Transport duties
//
//   Messages are plain objects; encodeMessage/decodeMessage (codec.ts) give etcd's raftpb bytes. Delivery may
//   drop, delay or reorder: Raft tolerates all three. Report failures so the leader backs off:
//   node.reportUnreachable(id) when a send to id failed; node.reportSnapshot(id, 'Finish' | 'Failure') after
//   sending a MsgSnap (required: the leader waits in Snapshot state until told).
//
// ## Compaction
//
//   Every N applied entries: await disk.compact(appliedIndex, node.raft.prs.confState(), stateMachineBytes).
//   Lagging or new members whose entries were compacted then receive that snapshot (MsgSnap).
//   Do not interleave disk.persist and disk.compact: run them on the same serialized loop.
//
// ## Determinism
//
//   Given the same config, seed and sequence of calls, the core produces the same Readys. The tests in
//   test/unit/etcd-raft/ drive in-memory clusters through fixtures/network.ts and compare transcripts.
export { RawNode } from './node.ts';
export type { Ready, Status } from './node.ts';
export { Raft, CAMPAIGN_TRANSFER } from './raft.ts';
export type { RaftConfig } from './raft.ts';
export { MemoryStorage } from './storage.ts';
export type { Storage } from './storage.ts';
export { seededRand } from './rand.ts';
export type { Rand } from './rand.ts';
export { encodeConfChange, decodeConfChange } from './confchange.ts';
export { encodeMessage, decodeMessage, encodeHardState, decodeHardState } from './codec.ts';
export {
  CompactedError, UnavailableError, SnapshotOutOfDateError, SnapshotTemporarilyUnavailableError,
  ProposalDroppedError, RaftConfigError, InvalidMessageError,
} from './errors.ts';
export { NONE, message, isEmptySnapshot, emptySnapshot } from './types.ts';
export type {
  Entry, EntryType, HardState, SoftState, StateType, ConfState, Snapshot, SnapshotMetadata, Message, MessageType,
  ReadState, ConfChange, ConfChangeType, SnapshotStatus,
} from './types.ts';
