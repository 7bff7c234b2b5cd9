// A golden transcript: the exact message flow of a 3-member election and one replicated proposal. It documents
// the protocol as this core speaks it and catches unintended changes to it.
import t from 'tap';
import { Network } from './fixtures/network.ts';

const golden = `
1->2 MsgPreVote term=1 logTerm=0 index=0
1->3 MsgPreVote term=1 logTerm=0 index=0
2->1 MsgPreVoteResp term=1
3->1 MsgPreVoteResp term=1
1->2 MsgVote term=1 logTerm=0 index=0
1->3 MsgVote term=1 logTerm=0 index=0
2->1 MsgVoteResp term=1
3->1 MsgVoteResp term=1
1->2 MsgApp term=1 logTerm=0 index=0 commit=0 entries=[1/1]
1->3 MsgApp term=1 logTerm=0 index=0 commit=0 entries=[1/1]
2->1 MsgAppResp term=1 index=1
3->1 MsgAppResp term=1 index=1
1->2 MsgApp term=1 logTerm=1 index=1 commit=1 entries=[]
1->3 MsgApp term=1 logTerm=1 index=1 commit=1 entries=[]
2->1 MsgAppResp term=1 index=1
3->1 MsgAppResp term=1 index=1
2->1 MsgProp term=0
1->2 MsgApp term=1 logTerm=1 index=1 commit=1 entries=[1/2]
1->3 MsgApp term=1 logTerm=1 index=1 commit=1 entries=[1/2]
2->1 MsgAppResp term=1 index=2
3->1 MsgAppResp term=1 index=2
1->2 MsgApp term=1 logTerm=1 index=2 commit=2 entries=[]
1->3 MsgApp term=1 logTerm=1 index=2 commit=2 entries=[]
2->1 MsgAppResp term=1 index=2
3->1 MsgAppResp term=1 index=2
`.trim().split('\n');

t.test('pre-vote, vote, the leader\'s empty entry, then a proposal forwarded by a follower', (t) => {
  const net = new Network([1, 2, 3]);
  // Pre-vote round at the prospective term 1 (no term change yet), then the real vote.
  net.elect(1);
  // The new leader appends an empty entry of its term (1/1); committing it tells followers the commit index.
  net.propose(2, 'x'); // a follower forwards the proposal (term 0: a local request) to the leader
  net.stabilize();
  t.same(net.transcript, golden);
  t.end();
});
