// Which messages of a Ready a member sends before its WAL write is durable (sendOrder in raft-member.ts),
// checked on real Readies of the Raft core: a follower that acknowledges an append and forwards a client's
// proposal and read in the same Ready.
import t from 'tap';
import { RawNode, MemoryStorage, seededRand, message, decodeConfChange } from '../../../control/etcd/raft/index.ts';
import type { Message } from '../../../control/etcd/raft/index.ts';
import { sendOrder } from '../../../control/etcd/server/raft-member.ts';

const types = (ms: Message[]) => ms.map((m) => m.type).sort();

t.test('a follower forwards proposals and reads at once and acknowledges only after the write', async (t) => {
  const follower = new RawNode({ id: 2, storage: new MemoryStorage(), electionTick: 10, heartbeatTick: 1, rand: seededRand(2) });
  follower.bootstrap({ voters: [1, 2, 3] });
  follower.ready();
  follower.advance();
  // the leader of term 2 appends an entry after the bootstrap entries
  const last = follower.raft.raftLog.lastIndex();
  follower.step(message({
    type: 'MsgApp', from: 1, to: 2, term: 2, index: last, logTerm: follower.raft.raftLog.term(last),
    entries: [{ type: 'Normal', term: 2, index: last + 1, data: new TextEncoder().encode('x') }], commit: last,
  }));
  follower.propose(new TextEncoder().encode('from a client'));
  follower.readIndex(new TextEncoder().encode('read-1'));
  const rd = follower.ready();
  t.same(types(rd.messages), ['MsgAppResp', 'MsgProp', 'MsgReadIndex'], 'the Ready holds an ack and two forwarded requests');

  const { now, afterWrite } = sendOrder(rd.messages, false);
  t.same(types(now), ['MsgProp', 'MsgReadIndex'], 'forwarded requests do not wait for the disk');
  t.same(types(afterWrite), ['MsgAppResp'], 'the ack waits for the disk');
  t.ok(now.every((m) => m.to === 1) && afterWrite.every((m) => m.to === 1), 'all go to the leader');
});

t.test('a leader sends everything before its own write', async (t) => {
  const leader = new RawNode({ id: 1, storage: new MemoryStorage(), electionTick: 10, heartbeatTick: 1, rand: seededRand(1) });
  leader.bootstrap({ voters: [1, 2, 3] });
  const boot = leader.ready();
  for (const e of boot.committedEntries) if (e.type === 'ConfChange') leader.applyConfChange(decodeConfChange(e.data));
  leader.advance();
  leader.campaign();
  const rd = leader.ready();
  t.ok(rd.messages.some((m) => m.type === 'MsgPreVote' || m.type === 'MsgVote'), 'campaigning produced vote requests');
  const { now, afterWrite } = sendOrder(rd.messages, true);
  t.equal(now.length, rd.messages.length);
  t.equal(afterWrite.length, 0);
});
