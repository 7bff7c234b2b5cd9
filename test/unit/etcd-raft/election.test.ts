// Leader election: single member, 3 and 5 members, split votes, pre-vote and check-quorum under partitions.
import t from 'tap';
import { Network } from './fixtures/network.ts';
import { MemoryStorage, RawNode, seededRand, RaftConfigError } from '../../../control/etcd/raft/index.ts';

t.test('a single member elects itself and commits its proposals', (t) => {
  const net = new Network([1]);
  const leader = net.tickUntilLeader();
  t.equal(leader, 1);
  t.equal(net.get(1).raft.term, 1, 'pre-vote does not add a term: one election, term 1');
  net.propose(1, 'a');
  net.stabilize();
  t.same(net.data(1), ['a']);
  t.equal(net.get(1).raft.raftLog.committed, 2, 'the empty leader entry and the proposal are committed');
  t.end();
});

t.test('3 members elect exactly one leader and all agree on it', (t) => {
  const net = new Network([1, 2, 3], { seed: 7 });
  const leader = net.tickUntilLeader();
  const terms = net.ids().map((id) => net.get(id).raft.term);
  t.equal(new Set(terms).size, 1, 'everyone is at the same term');
  for (const id of net.ids()) t.equal(net.get(id).raft.lead, leader, `member ${id} follows ${leader}`);
  t.equal(net.ids().filter((id) => net.get(id).raft.state === 'Leader').length, 1);
  t.end();
});

t.test('5 members elect a leader; campaign() makes a chosen member leader', (t) => {
  const net = new Network([1, 2, 3, 4, 5]);
  net.elect(3);
  t.equal(net.leader(), 3);
  for (const id of net.ids()) t.equal(net.get(id).raft.lead, 3);
  t.end();
});

t.test('a vote is refused to a candidate whose log is behind', (t) => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  net.isolate(3);
  net.propose(1, 'x');
  net.stabilize();
  net.heal();
  // 3 missed entry "x": it cannot win even if it campaigns first.
  net.get(3).node.campaign();
  net.stabilize();
  t.not(net.leader(), 3, 'the stale member did not become leader');
  t.equal(net.get(3).raft.state === 'Leader', false);
  t.end();
});

t.test('split votes are resolved by randomized timeouts', (t) => {
  // Without pre-vote, two members campaign at once in the same term and split the vote of a 4-member cluster.
  const net = new Network([1, 2, 3, 4], { preVote: false, seed: 3 });
  net.get(1).node.campaign();
  net.get(2).node.campaign();
  net.filter = (m) => !((m.type === 'MsgVote') && ((m.from === 1 && m.to === 4) || (m.from === 2 && m.to === 3)));
  net.stabilize();
  net.filter = undefined;
  t.equal(net.leader(), undefined, 'no one won the split election');
  t.equal(net.get(1).raft.term, 1);
  t.equal(net.get(2).raft.term, 1);
  const leader = net.tickUntilLeader();
  t.ok(net.get(leader).raft.term > 1, 'a later election resolved the split');
  t.equal(net.ids().filter((id) => net.get(id).raft.state === 'Leader').length, 1);
  t.end();
});

t.test('randomized election timeouts come from the injected source and lie in [e, 2e)', (t) => {
  const seen = new Set<number>();
  for (let seed = 0; seed < 50; seed++) {
    const node = new RawNode({
      id: 1, storage: new MemoryStorage({ voters: [1, 2, 3], learners: [] }), electionTick: 10, heartbeatTick: 1,
      rand: seededRand(seed),
    });
    const to = node.raft.randomizedElectionTimeout;
    t.ok(to >= 10 && to < 20, `timeout ${to} in range`);
    seen.add(to);
  }
  t.ok(seen.size > 3, 'timeouts vary with the seed');
  t.end();
});

t.test('bad configuration is refused with a clear error', (t) => {
  const storage = new MemoryStorage({ voters: [1], learners: [] });
  t.throws(() => new RawNode({ id: 0, storage, electionTick: 10, heartbeatTick: 1, rand: seededRand(1) }), RaftConfigError);
  t.throws(() => new RawNode({ id: 1, storage, electionTick: 1, heartbeatTick: 1, rand: seededRand(1) }),
    /electionTick \(1\) must be greater than heartbeatTick \(1\)/);
  t.end();
});

t.test('check-quorum: a leader cut off from the majority steps down', (t) => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  net.partition([1], [2, 3]);
  net.tickAll(40);
  t.not(net.get(1).raft.state, 'Leader', 'the minority leader stepped down');
  const newLeader = net.leader();
  t.ok(newLeader === 2 || newLeader === 3, 'the majority elected a new leader');
  // The old leader cannot commit anything while partitioned.
  t.equal(net.tryPropose(1, 'lost'), false, 'no leader known on the minority side: proposal dropped');
  net.heal();
  net.tickAll(5);
  t.equal(net.get(1).raft.lead, newLeader, 'the old leader follows the new one after healing');
  t.end();
});

t.test('pre-vote: a partitioned member does not bump terms or disrupt the leader when it returns', (t) => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  const term = net.get(1).raft.term;
  net.isolate(3);
  net.tickAll(100); // 3 keeps timing out and pre-campaigning, but never wins a pre-vote
  t.equal(net.get(3).raft.term, term, 'the isolated member did not increase its term');
  t.equal(net.get(3).raft.state, 'PreCandidate');
  net.heal();
  net.tickAll(20);
  t.equal(net.leader(), 1, 'the leader was not disrupted');
  t.equal(net.get(1).raft.term, term, 'the term did not change');
  t.equal(net.get(3).raft.lead, 1, 'the returning member follows the leader');
  t.end();
});

t.test('without pre-vote, a returning partitioned member forces a new election (the problem pre-vote solves)', (t) => {
  const net = new Network([1, 2, 3], { preVote: false, checkQuorum: false });
  net.elect(1);
  const term = net.get(1).raft.term;
  net.isolate(3);
  net.tickAll(100);
  t.ok(net.get(3).raft.term > term + 1, 'the isolated member bumped its term repeatedly');
  net.heal();
  net.tickAll(40);
  t.ok(net.get(net.tickUntilLeader()).raft.term > term, 'the cluster moved to a higher term');
  t.end();
});

t.test('check-quorum lease: followers ignore a disruptive vote while they hear from the leader', (t) => {
  const net = new Network([1, 2, 3], { preVote: false });
  net.elect(1);
  const term = net.get(1).raft.term;
  // 3 cannot hear the leader but can reach 2; it times out and campaigns at a higher term.
  net.cutLink(1, 3);
  net.tickAll(60);
  t.equal(net.leader(), 1, 'leader 1 keeps leading: 2 ignored the vote requests of 3 inside the lease');
  t.equal(net.get(2).raft.term, term, 'member 2 did not move to the disruptor\'s term');
  t.end();
});
