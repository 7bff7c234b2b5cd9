// Log replication: commit on quorum, only current-term entries commit by counting, lagging followers catch up,
// diverging logs are repaired with the fast back-off hint, and the inflight window bounds pipelining.
import t from 'tap';
import { Network } from './fixtures/network.ts';
import { InvalidMessageError, MemoryStorage, RawNode, seededRand, message } from '../../../control/etcd/raft/index.ts';
import type { Entry } from '../../../control/etcd/raft/index.ts';

const enc = new TextEncoder();

function logTerms(net: Network, id: number): string {
  const r = net.get(id).raft;
  const out: number[] = [];
  for (let i = r.raftLog.firstIndex(); i <= r.raftLog.lastIndex(); i++) out.push(r.raftLog.term(i));
  return out.join(',');
}

t.test('entries proposed on the leader or a follower replicate and apply everywhere in order', (t) => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  net.propose(1, 'a');
  net.propose(2, 'b'); // forwarded to the leader
  net.stabilize();
  net.propose(3, 'c');
  net.stabilize();
  for (const id of net.ids()) t.same(net.data(id), ['a', 'b', 'c'], `member ${id} applied a, b, c`);
  t.end();
});

t.test('an entry commits only once a quorum has it', (t) => {
  const net = new Network([1, 2, 3, 4, 5], { checkQuorum: false });
  net.elect(1);
  net.partition([1, 2], [3, 4, 5]);
  net.propose(1, 'x');
  net.stabilize();
  const before = net.get(1).raft.raftLog.committed;
  t.equal(net.get(1).raft.raftLog.lastIndex(), before + 1, 'the leader has the entry');
  t.equal(net.get(2).raft.raftLog.lastIndex(), before + 1, 'member 2 has the entry');
  t.same(net.data(1), [], 'two of five is not a quorum: nothing applied');
  net.heal();
  net.tickAll(2); // heartbeats find the others, who then receive the entry
  t.equal(net.get(1).raft.raftLog.committed, before + 1, 'committed once the majority has it');
  for (const id of net.ids()) t.same(net.data(id), ['x']);
  t.end();
});

t.test('a leader commits an entry of an earlier term only together with one of its own term', (t) => {
  const storage = new MemoryStorage({ voters: [1, 2, 3], learners: [] });
  const old: Entry[] = [
    { term: 1, index: 1, type: 'Normal', data: new Uint8Array(0) },
    { term: 2, index: 2, type: 'Normal', data: enc.encode('old') },
  ];
  storage.append(old);
  storage.setHardState({ term: 2, vote: 0, commit: 1 });
  const node = new RawNode({ id: 1, storage, electionTick: 10, heartbeatTick: 1, rand: seededRand(1), preVote: false });
  const r = node.raft;
  r.becomeCandidate();
  r.becomeLeader(); // term 3, appends an empty entry at index 3
  t.equal(r.raftLog.lastIndex(), 3);
  // Member 2 acknowledges index 2 (the term-2 entry): a quorum has it, but it is of an older term.
  r.prs.progress.get(2)!.becomeReplicate();
  r.step(message({ type: 'MsgAppResp', from: 2, to: 1, term: 3, index: 2 }));
  t.equal(r.raftLog.committed, 1, 'index 2 is not committed by counting replicas of an older term');
  r.step(message({ type: 'MsgAppResp', from: 2, to: 1, term: 3, index: 3 }));
  t.equal(r.raftLog.committed, 3, 'index 3 (current term) commits, and index 2 with it');
  t.end();
});

t.test('a lagging follower catches up', (t) => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  net.isolate(3);
  for (let i = 0; i < 50; i++) net.propose(1, `e${i}`);
  net.stabilize();
  t.equal(net.data(3).length, 0);
  t.equal(net.data(1).length, 50);
  net.heal();
  net.tickAll(3);
  t.same(net.data(3), net.data(1), 'member 3 applied all 50 entries');
  t.equal(net.get(1).node.status().progress[3].state, 'Replicate', 'the leader replicates to 3 again');
  t.end();
});

t.test('a diverging log is repaired, skipping a whole term per round trip (fast back-off)', (t) => {
  const net = new Network([1, 2, 3], { checkQuorum: false });
  net.elect(1);
  net.propose(1, 'shared');
  net.stabilize();
  // Leader 1 is cut off and appends 30 entries (term 1) that never commit.
  net.partition([1], [2, 3]);
  for (let i = 0; i < 30; i++) net.propose(1, `lost${i}`);
  net.stabilize();
  t.equal(net.get(1).raft.raftLog.lastIndex(), 32);
  // The majority elects 2 and commits 20 entries at term 2, then 3 takes over at term 3 with a long log, so its
  // first probe to member 1 starts at index 23, far inside member 1's diverging term-1 entries.
  net.elect(2);
  for (let i = 0; i < 20; i++) net.propose(2, `new${i}`);
  net.stabilize();
  net.elect(3);
  t.equal(net.leader(), 3);
  net.heal();
  const mark = net.transcript.length;
  net.tickAll(3);
  const rejects = net.transcript.slice(mark).filter((l) => l.startsWith('1->3 MsgAppResp') && l.includes('reject'));
  t.equal(rejects.length, 1, `one rejection repaired 21 diverging entries: ${rejects.join('; ')}`);
  t.equal(logTerms(net, 1), logTerms(net, 3), 'member 1 has the leader\'s log');
  t.same(net.data(1), ['shared', ...Array.from({ length: 20 }, (_, i) => `new${i}`)], 'the uncommitted entries were discarded');
  t.end();
});

t.test('a follower with a longer log of an old term is probed back quickly', (t) => {
  // Member 3 is the one with extra uncommitted entries; the new leader is a former follower.
  const net = new Network([1, 2, 3], { checkQuorum: false });
  net.elect(3);
  net.partition([3], [1, 2]);
  for (let i = 0; i < 20; i++) net.propose(3, `stale${i}`);
  net.stabilize();
  net.elect(1);
  net.propose(1, 'fresh');
  net.stabilize();
  net.heal();
  net.tickAll(3);
  t.same(net.data(3), ['fresh']);
  t.equal(logTerms(net, 3), logTerms(net, 1));
  t.end();
});

t.test('pipelining is bounded by the inflight window and large batches are split by size', (t) => {
  const net = new Network([1, 2], { maxInflightMsgs: 2, maxSizePerMsg: 1 });
  net.elect(1);
  const leader = net.get(1).node;
  for (let i = 0; i < 5; i++) leader.propose(enc.encode(`p${i}`));
  const rd = leader.ready();
  const apps = rd.messages.filter((m) => m.type === 'MsgApp' && m.to === 2);
  t.equal(apps.length, 2, 'only two MsgApp in flight to member 2');
  t.ok(apps.every((m) => m.entries.length === 1), 'each message carries one entry (size limit)');
  net.get(1).storage.append(rd.entries);
  leader.advance();
  for (const m of rd.messages) net.get(2).node.step(m);
  net.stabilize();
  t.same(net.data(2), ['p0', 'p1', 'p2', 'p3', 'p4'], 'acknowledgements open the window until everything is sent');
  t.end();
});

t.test('messages from unknown members and local-only message types from the network are ignored', (t) => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  const n = net.get(1).node;
  t.equal(n.step(message({ type: 'MsgHup', from: 2, to: 1 })), false);
  t.equal(n.step(message({ type: 'MsgAppResp', from: 9, to: 1, term: n.raft.term, index: 100 })), false);
  t.equal(n.raft.state, 'Leader');
  const f = net.get(2).node;
  const term = f.raft.term;
  t.throws(() => f.step(message({ type: 'MsgApp', from: 1, to: 2, term, index: 5, logTerm: term,
    entries: [{ term, index: 9, type: 'Normal', data: new Uint8Array(0) }] })), /entry 0 has index 9, expected 6/);
  t.throws(() => f.step(message({ type: 'MsgSnap', from: 1, to: 2, term })), InvalidMessageError);
  t.throws(() => f.step(message({ type: 'MsgHeartbeat', from: 1, to: 3, term })), /addressed to 3, this member is 2/);
  t.throws(() => f.step(message({ type: 'MsgApp', from: 1, to: 2, term: 0 })), /term is 0/);
  t.throws(() => f.step({ ...message({ type: 'MsgApp', from: 1, to: 2, term }), index: -1 }), /index must be a non-negative integer/);
  t.equal(f.raft.term, term, 'nothing was stepped');
  net.propose(1, 'still fine');
  net.stabilize();
  t.same(net.data(2), ['still fine']);
  t.end();
});

t.test('a leader without quorum stops accepting proposals once its uncommitted budget is used', (t) => {
  const storages = [1, 2, 3].map(() => new MemoryStorage({ voters: [1, 2, 3], learners: [] }));
  const node = new RawNode({
    id: 1, storage: storages[0], electionTick: 10, heartbeatTick: 1, rand: seededRand(1), maxUncommittedEntriesSize: 100,
  });
  node.raft.becomeCandidate();
  node.raft.becomeLeader();
  const big = new Uint8Array(40);
  node.propose(big);
  node.propose(big);
  t.throws(() => node.propose(big), /too many uncommitted entries \(80 bytes pending, limit 100\)/);
  // Followers acknowledge: the entries commit, are applied, and the budget is released.
  const rd = node.ready();
  storages[0].append(rd.entries);
  node.advance();
  const last = node.raft.raftLog.lastIndex();
  node.raft.prs.progress.get(2)!.becomeReplicate();
  node.step(message({ type: 'MsgAppResp', from: 2, to: 1, term: node.raft.term, index: last }));
  const rd2 = node.ready();
  t.equal(rd2.committedEntries.length, 3, 'empty leader entry and two proposals committed');
  node.advance();
  t.equal(node.raft.uncommittedSize, 0);
  t.doesNotThrow(() => node.propose(big), 'accepted again');
  t.end();
});

t.test('a batch of proposals is one append and one MsgApp per follower, on the leader or forwarded by a follower', (t) => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  const leader = net.get(1).node;
  leader.proposeBatch(['a', 'b', 'c'].map((s) => enc.encode(s)));
  const rd = leader.ready();
  t.equal(rd.entries.length, 3, 'all three entries appended at once');
  for (const to of [2, 3]) {
    const apps = rd.messages.filter((m) => m.type === 'MsgApp' && m.to === to);
    t.equal(apps.length, 1, `one MsgApp to member ${to}`);
    t.same(apps[0].entries.map((e) => new TextDecoder().decode(e.data)), ['a', 'b', 'c']);
  }
  net.get(1).storage.append(rd.entries);
  leader.advance();
  for (const m of rd.messages) net.get(m.to).node.step(m);
  net.stabilize();
  const follower = net.get(2).node;
  follower.proposeBatch([enc.encode('d'), enc.encode('e')]);
  const frd = follower.ready();
  const props = frd.messages.filter((m) => m.type === 'MsgProp');
  t.equal(props.length, 1, 'a follower forwards the batch as one MsgProp');
  t.equal(props[0].entries.length, 2);
  follower.advance();
  for (const m of frd.messages) net.get(m.to).node.step(m);
  net.stabilize();
  for (const id of net.ids()) t.same(net.data(id), ['a', 'b', 'c', 'd', 'e'], `member ${id} applied the batches in order`);
  t.end();
});

t.test('a batch refused by the uncommitted budget is refused whole', (t) => {
  const storage = new MemoryStorage({ voters: [1, 2, 3], learners: [] });
  const node = new RawNode({ id: 1, storage, electionTick: 10, heartbeatTick: 1, rand: seededRand(1), maxUncommittedEntriesSize: 100 });
  node.raft.becomeCandidate();
  node.raft.becomeLeader();
  node.proposeBatch([new Uint8Array(60)]);
  const before = node.raft.raftLog.lastIndex();
  t.throws(() => node.proposeBatch([new Uint8Array(30), new Uint8Array(30)]), /too many uncommitted entries/);
  t.equal(node.raft.raftLog.lastIndex(), before, 'no entry of the refused batch was appended');
  t.end();
});
