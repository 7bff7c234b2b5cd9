// ReadIndex, leader transfer, membership changes, snapshots and log compaction, restart from storage.
import t from 'tap';
import { Network } from './fixtures/network.ts';
import { ProposalDroppedError } from '../../../control/etcd/raft/index.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

t.test('ReadIndex on the leader is answered after a heartbeat round confirms leadership', (t) => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  net.propose(1, 'a');
  net.stabilize();
  const leader = net.get(1);
  leader.node.readIndex(enc.encode('req-1'));
  const rd = leader.node.ready();
  t.same(rd.readStates, [], 'not answered before the followers confirm');
  t.ok(rd.messages.some((m) => m.type === 'MsgHeartbeat' && m.context && dec.decode(m.context) === 'req-1'),
    'heartbeats carry the request context');
  leader.storage.append(rd.entries);
  leader.node.advance();
  for (const m of rd.messages) net.get(m.to).node.step(m);
  net.stabilize();
  t.equal(leader.readStates.length, 1);
  t.equal(dec.decode(leader.readStates[0].requestCtx), 'req-1');
  t.equal(leader.readStates[0].index, leader.raft.raftLog.committed, 'read index is the commit index at request time');
  t.end();
});

t.test('ReadIndex forwarded by a follower returns the leader\'s commit index to the follower', (t) => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  net.propose(1, 'a');
  net.stabilize();
  net.get(2).node.readIndex(enc.encode('f-read'));
  net.stabilize();
  const rs = net.get(2).readStates;
  t.equal(rs.length, 1);
  t.equal(dec.decode(rs[0].requestCtx), 'f-read');
  t.equal(rs[0].index, net.get(1).raft.raftLog.committed);
  t.ok(net.get(2).appliedIndex >= rs[0].index, 'the follower may serve the read: it applied up to the read index');
  t.end();
});

t.test('ReadIndex is not answered by a leader that lost its quorum', (t) => {
  const net = new Network([1, 2, 3], { checkQuorum: false });
  net.elect(1);
  net.partition([1], [2, 3]);
  net.get(1).node.readIndex(enc.encode('stale?'));
  net.stabilize();
  t.same(net.get(1).readStates, [], 'no confirmation from a quorum, no read');
  t.end();
});

t.test('ReadIndex on a single member and with no leader', (t) => {
  const one = new Network([1]);
  one.elect(1);
  one.get(1).node.readIndex(enc.encode('solo'));
  one.stabilize();
  t.equal(one.get(1).readStates.length, 1, 'a single voter answers at once');
  const three = new Network([1, 2, 3]);
  t.throws(() => three.get(2).node.readIndex(enc.encode('x')), ProposalDroppedError, 'no leader: the read is refused');
  t.end();
});

t.test('leader transfer hands leadership to an up-to-date follower with MsgTimeoutNow', (t) => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  net.propose(1, 'a');
  net.stabilize();
  const mark = net.transcript.length;
  net.get(1).node.transferLeader(3);
  net.stabilize();
  t.equal(net.leader(), 3, 'member 3 leads');
  t.ok(net.transcript.slice(mark).some((l) => l.startsWith('1->3 MsgTimeoutNow')));
  t.equal(net.get(1).raft.lead, 3);
  net.propose(3, 'b');
  net.stabilize();
  for (const id of net.ids()) t.same(net.data(id), ['a', 'b']);
  t.end();
});

t.test('leader transfer to an unknown member is refused', (t) => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  t.throws(() => net.get(1).node.transferLeader(9), /cannot transfer leadership to unknown member 9/);
  t.equal(net.get(1).raft.leadTransferee, 0);
  t.end();
});

t.test('leader transfer to a lagging follower first catches it up; proposals are refused meanwhile', (t) => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  net.isolate(3);
  for (let i = 0; i < 5; i++) net.propose(1, `e${i}`);
  net.stabilize();
  net.get(1).node.transferLeader(3);
  net.stabilize();
  t.equal(net.get(1).raft.leadTransferee, 3, 'transfer in progress');
  t.throws(() => net.propose(1, 'during'), ProposalDroppedError, 'proposals dropped during transfer');
  net.heal();
  net.tickAll(2);
  t.equal(net.leader(), 3, 'member 3 caught up and took over');
  t.same(net.data(3), ['e0', 'e1', 'e2', 'e3', 'e4']);
  t.end();
});

t.test('a leader transfer that cannot finish is abandoned after an election timeout', (t) => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  net.isolate(3);
  net.get(1).node.transferLeader(3);
  net.stabilize();
  t.equal(net.get(1).raft.leadTransferee, 3);
  net.tickAll(net.opts.electionTick);
  t.equal(net.get(1).raft.leadTransferee, 0, 'the transfer was aborted');
  t.equal(net.leader(), 1);
  t.ok(net.tryPropose(1, 'ok'), 'proposals are accepted again');
  t.end();
});

t.test('add a member: it receives the log and becomes part of the quorum', (t) => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  net.propose(1, 'a');
  net.stabilize();
  net.addMember(4);
  net.get(1).node.proposeConfChange({ type: 'AddNode', nodeId: 4 });
  net.stabilize();
  t.same(net.get(1).raft.prs.voters(), [1, 2, 3, 4], 'leader knows four voters');
  net.tickAll(2);
  t.same(net.get(4).raft.prs.voters(), [1, 2, 3, 4], 'the new member learned the membership from the log');
  t.same(net.data(4), ['a', 'conf:AddNode:4']);
  // Quorum is now 3 of 4: with 3 and 4 down, nothing commits.
  net.isolate(3);
  net.isolate(4);
  const committed = net.get(1).raft.raftLog.committed;
  net.propose(1, 'b');
  net.stabilize();
  t.equal(net.get(1).raft.raftLog.committed, committed, 'two of four is not a quorum');
  t.end();
});

t.test('only one conf change may be pending at a time', (t) => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  net.isolate(2);
  net.isolate(3);
  net.get(1).node.proposeConfChange({ type: 'AddNode', nodeId: 4 });
  net.get(1).node.proposeConfChange({ type: 'AddNode', nodeId: 5 });
  net.stabilize();
  const ents = net.get(1).raft.raftLog.entries(net.get(1).raft.raftLog.firstIndex());
  t.equal(ents.filter((e) => e.type === 'ConfChange').length, 1, 'the second change became a no-op entry');
  t.end();
});

t.test('remove a member: the quorum shrinks and the removed member is ignored', (t) => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  net.get(1).node.proposeConfChange({ type: 'RemoveNode', nodeId: 3 });
  net.stabilize();
  t.same(net.get(1).raft.prs.voters(), [1, 2]);
  net.get(3).removed = true;
  net.propose(1, 'after');
  net.stabilize();
  t.same(net.data(2), ['conf:RemoveNode:3', 'after'], 'two members commit without the removed one');
  net.tickAll(50);
  t.equal(net.leader(), 1, 'the remaining cluster is stable');
  t.end();
});

t.test('removing the leader makes it step down and the rest elect a new leader', (t) => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  net.get(1).node.proposeConfChange({ type: 'RemoveNode', nodeId: 1 });
  net.stabilize();
  t.not(net.get(1).raft.state, 'Leader');
  net.get(1).removed = true;
  const leader = net.tickUntilLeader();
  t.ok(leader === 2 || leader === 3);
  t.same(net.get(leader).raft.prs.voters(), [2, 3]);
  t.end();
});

t.test('a learner receives the log but does not vote or count for quorum, and can be promoted', (t) => {
  const net = new Network([1, 2, 3], { learners: [3] });
  net.elect(1);
  net.propose(1, 'a');
  net.stabilize();
  t.same(net.data(3), ['a'], 'the learner applied the entry');
  net.isolate(2);
  const committed = net.get(1).raft.raftLog.committed;
  net.propose(1, 'b');
  net.stabilize();
  t.equal(net.get(1).raft.raftLog.committed, committed, 'leader + learner is not a quorum of voters {1,2}');
  net.heal();
  net.tickAll(2);
  net.tickAll(100);
  t.equal(net.get(3).raft.state, 'Follower', 'a learner never campaigns');
  net.get(1).node.proposeConfChange({ type: 'AddNode', nodeId: 3 });
  net.stabilize();
  t.same(net.get(1).raft.prs.voters(), [1, 2, 3], 'promoted to voter');
  t.end();
});

t.test('after compaction a new member is caught up with a snapshot (MsgSnap)', (t) => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  for (let i = 0; i < 10; i++) net.propose(1, `e${i}`);
  net.stabilize();
  net.addMember(4);
  net.isolate(4);
  net.get(1).node.proposeConfChange({ type: 'AddNode', nodeId: 4 });
  net.stabilize();
  // Snapshots are taken after the change was applied, so their membership includes member 4.
  for (const id of [1, 2, 3]) net.compact(id);
  t.ok(net.get(1).raft.raftLog.firstIndex() > 10, 'the leader compacted its log');
  net.heal();
  const mark = net.transcript.length;
  net.tickAll(3);
  t.ok(net.transcript.slice(mark).some((l) => l.startsWith('1->4 MsgSnap')), 'a snapshot was sent to member 4');
  const want = Array.from({ length: 10 }, (_, i) => `e${i}`);
  t.same(net.data(4).slice(0, 10), want, 'member 4 has the state from the snapshot');
  net.propose(1, 'later');
  net.stabilize();
  t.same(net.data(4).at(-1), 'later', 'and replicates normally afterwards');
  t.same(net.get(4).raft.prs.voters(), [1, 2, 3, 4], 'membership came with the snapshot');
  t.equal(net.get(1).node.status().progress[4].state, 'Replicate');
  t.end();
});

t.test('a lagging member whose entries were compacted gets a snapshot; a dropped snapshot is retried', (t) => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  net.isolate(3);
  for (let i = 0; i < 20; i++) net.propose(1, `e${i}`);
  net.stabilize();
  net.compact(1);
  net.compact(2);
  // The first snapshot is lost on the wire.
  let dropped = 0;
  net.filter = (m) => !(m.type === 'MsgSnap' && dropped++ === 0);
  net.heal();
  net.tickAll(10);
  t.equal(dropped >= 2, true, 'a second snapshot was sent after the first failed');
  t.same(net.data(3), net.data(1), 'member 3 caught up');
  t.end();
});

t.test('a restarted member recovers its term, vote and log from storage', (t) => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  for (let i = 0; i < 3; i++) net.propose(1, `e${i}`);
  net.stabilize();
  const term = net.get(2).raft.term;
  net.restart(2);
  t.equal(net.get(2).raft.term, term);
  t.equal(net.get(2).raft.vote, 1);
  net.tickAll(2);
  t.same(net.data(2), ['e0', 'e1', 'e2'], 'entries were re-applied from the stored log');
  net.compact(1);
  net.restart(1);
  const leader = net.tickUntilLeader();
  net.propose(leader, 'after-restart');
  net.stabilize();
  for (const id of net.ids()) t.same(net.data(id), ['e0', 'e1', 'e2', 'after-restart'], `member ${id} state intact`);
  t.end();
});

t.test('bootstrap writes the membership into the log, so a member added later learns it by replay', (t) => {
  const net = new Network([1, 2, 3], { bootstrap: true });
  t.equal(net.get(1).raft.raftLog.committed, 3, 'three committed ConfChange entries');
  t.same(net.get(1).storage.initialState().hardState, { term: 1, vote: 0, commit: 3 }, 'persisted hard state');
  net.elect(2);
  net.propose(2, 'a');
  net.stabilize();
  net.addMember(4);
  t.same(net.get(4).raft.prs.voters(), [], 'the new member starts knowing nobody');
  net.get(2).node.proposeConfChange({ type: 'AddNode', nodeId: 4 });
  net.stabilize();
  net.tickAll(2);
  t.same(net.get(4).raft.prs.voters(), [1, 2, 3, 4], 'membership learned from the log');
  t.same(net.data(4), ['conf:AddNode:1', 'conf:AddNode:2', 'conf:AddNode:3', 'a', 'conf:AddNode:4']);
  t.throws(() => net.get(1).node.bootstrap({ voters: [1] }), /bootstrap needs empty storage/);
  t.end();
});
