// Determinism (same seed, same transcript) and a randomized safety test: many seeds of random partitions,
// message loss and reordering, ticks, proposals, compactions and restarts. After every step: no two leaders in
// one term, all members agree on every committed index, and nothing committed or applied ever changes.
// Members sometimes hold a Ready while more messages are stepped (as a driver does during its fsync).
// Reads (ReadIndex) issued at random must be served at an index covering everything committed before them.
// At the end of each run the network heals and every member must converge on the same state.
import t from 'tap';
import { Network } from './fixtures/network.ts';
import { seededRand } from '../../../control/etcd/raft/index.ts';
import type { Rand } from '../../../control/etcd/raft/index.ts';

class SafetyChecker {
  readonly leaderOfTerm = new Map<number, number>();
  readonly committedTerm = new Map<number, number>();
  readonly appliedData = new Map<number, string>();
  violations: string[] = [];

  check(net: Network, step: number): void {
    for (const id of net.ids()) {
      const m = net.get(id);
      const r = m.raft;
      if (r.state === 'Leader') {
        const prev = this.leaderOfTerm.get(r.term);
        if (prev !== undefined && prev !== id) this.violations.push(`step ${step}: two leaders in term ${r.term}: ${prev} and ${id}`);
        this.leaderOfTerm.set(r.term, id);
      }
      const log = r.raftLog;
      for (let i = log.firstIndex(); i <= log.committed; i++) {
        const term = log.term(i);
        const known = this.committedTerm.get(i);
        if (known === undefined) this.committedTerm.set(i, term);
        else if (known !== term) this.violations.push(`step ${step}: member ${id} has term ${term} at committed index ${i}, others had ${known}`);
      }
      for (const a of m.applied) {
        const known = this.appliedData.get(a.index);
        if (known === undefined) this.appliedData.set(a.index, a.data);
        else if (known !== a.data) this.violations.push(`step ${step}: member ${id} applied "${a.data}" at ${a.index}, others "${known}"`);
      }
    }
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function randomRun(seed: number, steps: number, size: number): { net: Network; checker: SafetyChecker; readsServed: number } {
  let readsServed = 0;
  const ids = Array.from({ length: size }, (_, i) => i + 1);
  const net = new Network(ids, { seed, maxSizePerMsg: 64, maxInflightMsgs: 4 });
  const rnd: Rand = seededRand(seed ^ 0x5eed);
  const checker = new SafetyChecker();
  let proposals = 0;
  const reads = new Map<string, number>();
  for (let step = 0; step < steps; step++) {
    const dice = rnd.intn(100);
    if (dice < 45) {
      net.tick(ids[rnd.intn(size)]);
    } else if (dice < 65) {
      net.tryPropose(ids[rnd.intn(size)], `s${seed}-p${proposals++}`);
    } else if (dice < 70) {
      // New partition: a random minority side, or heal.
      net.heal();
      if (rnd.intn(3) > 0) {
        const side = ids.filter(() => rnd.intn(2) === 0);
        net.partition(side, ids.filter((id) => !side.includes(id)));
      }
    } else if (dice < 72) {
      net.restart(ids[rnd.intn(size)]);
    } else if (dice < 75) {
      const id = ids[rnd.intn(size)];
      const m = net.get(id);
      if (m.appliedIndex > m.storage.snapshot().metadata.index) net.compact(id);
    } else if (dice < 78) {
      net.dropRate = rnd.intn(2) === 0 ? 0 : 0.2;
    } else if (dice < 83) {
      // A linearizable read: whatever index it is served at must cover every entry committed before it began.
      const id = ids[rnd.intn(size)];
      const ctx = `read-${seed}-${step}`;
      try {
        net.get(id).node.readIndex(enc.encode(ctx));
        reads.set(ctx, Math.max(...ids.map((i) => net.get(i).raft.raftLog.committed)));
      } catch { /* no leader known: refused, fine */ }
    }
    for (const id of ids) net.processReady(id);
    // Some members take their next Ready now and handle it only after more messages were stepped.
    for (const id of ids) if (rnd.intn(4) === 0) net.startReady(id);
    net.deliverSome(rnd.intn(2) === 0 ? 1 : 0.5);
    for (const id of ids) if (rnd.intn(3) > 0) net.processReady(id);
    checker.check(net, step);
    for (const id of ids) {
      const m = net.get(id);
      for (const rs of m.readStates.splice(0)) {
        const ctx = dec.decode(rs.requestCtx);
        const floor = reads.get(ctx);
        if (floor === undefined) checker.violations.push(`step ${step}: member ${id} got a read state for unknown ${ctx}`);
        else if (rs.index < floor) checker.violations.push(`step ${step}: read ${ctx} served at index ${rs.index} < ${floor} committed before it`);
        else readsServed++;
      }
    }
    if (checker.violations.length > 0) break;
  }
  return { net, checker, readsServed };
}

t.test('the same seed replays the same run; another seed does not', (t) => {
  const a = randomRun(42, 400, 3).net.transcript;
  const b = randomRun(42, 400, 3).net.transcript;
  const c = randomRun(43, 400, 3).net.transcript;
  t.ok(a.length > 100, `the run did something (${a.length} transcript lines)`);
  t.same(a, b, 'identical transcripts for seed 42');
  t.not(a.join('\n'), c.join('\n'), 'seed 43 differs');
  t.end();
});

t.test('randomized safety and convergence over many seeds', (t) => {
  let runsWithLeaderChange = 0;
  let reads = 0;
  for (let seed = 1; seed <= 100; seed++) {
    const size = seed % 2 === 0 ? 3 : 5;
    const { net, checker, readsServed } = randomRun(seed, 800, size);
    reads += readsServed;
    if (checker.violations.length > 0) {
      t.fail(`seed ${seed}: ${checker.violations[0]}`);
      continue;
    }
    if (checker.leaderOfTerm.size > 1) runsWithLeaderChange++;
    // Liveness once the network is good again.
    net.heal();
    net.dropRate = 0;
    net.stabilize();
    const leader = net.tickUntilLeader();
    net.propose(leader, `final-${seed}`);
    net.stabilize();
    net.tickAll(3);
    checker.check(net, -1);
    if (checker.violations.length > 0) {
      t.fail(`seed ${seed} after healing: ${checker.violations[0]}`);
      continue;
    }
    const want = net.data(leader);
    const agree = net.ids().every((id) => JSON.stringify(net.data(id)) === JSON.stringify(want));
    if (!agree || want.at(-1) !== `final-${seed}`) {
      t.fail(`seed ${seed}: members did not converge: ${net.ids().map((id) => `${id}:${net.data(id).length}`).join(' ')}`);
    }
  }
  t.ok(runsWithLeaderChange > 40, `leadership changed in ${runsWithLeaderChange} runs (the faults were real)`);
  t.ok(reads > 200, `${reads} linearizable reads were served and checked`);
  t.pass('all seeds checked');
  t.end();
});

t.test('randomized membership changes (add and remove one at a time) keep safety and converge', (t) => {
  for (let seed = 1; seed <= 40; seed++) {
    const net = new Network([1, 2, 3], { seed, maxSizePerMsg: 64, maxInflightMsgs: 4 });
    const rnd = seededRand(seed ^ 0xcc);
    const checker = new SafetyChecker();
    let nextId = 4;
    let proposals = 0;
    const live = () => net.ids().filter((id) => !net.get(id).removed);
    // A member that applied its own removal is shut down, as etcd does.
    const retireRemoved = () => {
      for (const id of net.ids()) {
        const m = net.get(id);
        if (!m.removed && m.applied.some((a) => a.data === `conf:RemoveNode:${id}`)) m.removed = true;
      }
    };
    for (let step = 0; step < 800 && checker.violations.length === 0; step++) {
      const ids = live();
      const dice = rnd.intn(100);
      if (dice < 45) net.tick(ids[rnd.intn(ids.length)]);
      else if (dice < 60) net.tryPropose(ids[rnd.intn(ids.length)], `p${proposals++}`);
      else if (dice < 64) {
        net.heal();
        if (rnd.intn(3) > 0) {
          const side = ids.filter(() => rnd.intn(2) === 0);
          net.partition(side, ids.filter((id) => !side.includes(id)));
        }
      } else if (dice < 66) net.restart(ids[rnd.intn(ids.length)]);
      else if (dice < 69) {
        const m = net.get(ids[rnd.intn(ids.length)]);
        if (m.appliedIndex > m.storage.snapshot().metadata.index) net.compact(m.id);
      } else if (dice < 72) {
        const l = net.leader();
        if (l !== undefined) {
          const voters = net.get(l).raft.prs.voters();
          try {
            if (rnd.intn(2) === 0 && voters.length < 6) {
              const id = nextId++;
              net.addMember(id);
              net.get(l).node.proposeConfChange({ type: 'AddNode', nodeId: id });
            } else if (voters.length > 3) {
              net.get(l).node.proposeConfChange({ type: 'RemoveNode', nodeId: voters[rnd.intn(voters.length)] });
            }
          } catch { /* dropped during a transfer: fine */ }
        }
      }
      for (const id of net.ids()) net.processReady(id);
      for (const id of net.ids()) if (rnd.intn(4) === 0) net.startReady(id);
      net.deliverSome(rnd.intn(2) === 0 ? 1 : 0.5);
      for (const id of net.ids()) if (rnd.intn(3) > 0) net.processReady(id);
      retireRemoved();
      checker.check(net, step);
    }
    if (checker.violations.length > 0) {
      t.fail(`seed ${seed}: ${checker.violations[0]}`);
      continue;
    }
    net.heal();
    net.stabilize();
    let proposedOn = -1;
    let converged = false;
    for (let k = 0; k < 400 && !converged; k++) {
      net.tickAll(1);
      retireRemoved();
      const l = net.leader();
      if (l === undefined) continue;
      if (proposedOn !== l) {
        net.tryPropose(l, `final-${seed}`);
        proposedOn = l;
        net.stabilize();
      }
      const want = JSON.stringify(net.data(l));
      converged = net.data(l).includes(`final-${seed}`) &&
        net.get(l).raft.prs.voters().every((id) => JSON.stringify(net.data(id)) === want);
    }
    checker.check(net, -1);
    if (checker.violations.length > 0) t.fail(`seed ${seed} after healing: ${checker.violations[0]}`);
    if (!converged) t.fail(`seed ${seed}: the voters did not converge after healing`);
  }
  t.pass('all seeds checked');
  t.end();
});
