// The member that proposed an entry applies the request object it already holds (no decode); every other
// member, and a replay, decode the entry. Both paths must give the same answers and the same state: the same
// random requests run through one server that applies its own proposals and one that only ever sees copies.
import t from 'tap';
import { EtcdServer } from '../../../control/etcd/server/etcd-server.ts';
import type { Consensus, ConsensusStatus, StateMachine } from '../../../control/etcd/server/consensus.ts';
import { decodeMessage, encodeMessage, messageType } from '../../../control/etcd/proto/load.ts';
import { seededRand } from '../../../control/etcd/raft/index.ts';
import type { StoreRequest, StoreResponse } from '../../../control/etcd/mvcc/store.ts';

/** Orders proposals like a one-member log; `copy` hands the state machine a copy of each entry's bytes. */
class FakeLog implements Consensus {
  private sm!: StateMachine;
  private index = 0;
  readonly log: Uint8Array[] = [];
  private readonly copy: boolean;
  onLeaderChange: (isLeader: boolean) => void = () => {};
  constructor(copy: boolean) { this.copy = copy; }
  async start(sm: StateMachine): Promise<void> { this.sm = sm; this.onLeaderChange(true); }
  propose(data: Uint8Array): void {
    this.log.push(data);
    setImmediate(() => this.sm.apply(this.copy ? Uint8Array.from(data) : data, ++this.index));
  }
  async readIndex(): Promise<void> {}
  isLeader(): boolean { return true; }
  status(): ConsensusStatus { return { memberId: '1', leaderId: '1', term: 1, commitIndex: this.index, appliedIndex: this.index }; }
  async stop(): Promise<void> {}
}

function server(consensus: Consensus): EtcdServer {
  return new EtcdServer({ name: 'a', memberId: '1', clusterId: '9', members: [{ ID: '1', name: 'a', peerURLs: [], clientURLs: [], isLearner: false }], consensus });
}

/** A request as grpc-js hands it to a handler: decoded from the wire with every default present. */
function asFromWire<T>(typeName: string, obj: object): T {
  const type = messageType(typeName);
  return decodeMessage<T>(type, encodeMessage(type, obj));
}

function randomRequests(n: number, seed: number): StoreRequest[] {
  const r = seededRand(seed);
  const key = () => Buffer.from(`k${r.intn(12)}`);
  const value = () => Buffer.from(`v${r.intn(1000)}`.repeat(1 + r.intn(3)));
  const leases = ['7001', '7002', '7003'];
  const out: StoreRequest[] = [];
  for (let i = 0; i < n; i++) {
    const pick = r.intn(100);
    if (pick < 45) {
      out.push({ put: asFromWire('etcdserverpb.PutRequest', {
        key: key(), value: value(), prev_kv: r.intn(2) === 0, lease: r.intn(4) === 0 ? leases[r.intn(3)] : '0',
        ignore_value: r.intn(10) === 0, ignore_lease: r.intn(10) === 0,
      }) });
    } else if (pick < 55) {
      const from = r.intn(12);
      out.push({ delete_range: asFromWire('etcdserverpb.DeleteRangeRequest', {
        key: Buffer.from(`k${from}`), range_end: r.intn(2) === 0 ? Buffer.from(`k${from + 3}`) : Buffer.alloc(0), prev_kv: r.intn(2) === 0,
      }) });
    } else if (pick < 80) {
      const k = key();
      out.push({ txn: asFromWire('etcdserverpb.TxnRequest', {
        compare: [{ key: k, target: 'VERSION', result: ['EQUAL', 'GREATER', 'LESS', 'NOT_EQUAL'][r.intn(4)], version: String(r.intn(3)) }],
        success: [{ request_put: { key: k, value: value(), prev_kv: true } }, { request_range: { key: Buffer.from('k0'), range_end: Buffer.from('k9') } }],
        failure: [{ request_delete_range: { key: k, prev_kv: true } }, { request_txn: { success: [{ request_put: { key: key(), value: value() } }] } }],
      }) });
    } else if (pick < 88) {
      out.push({ lease_grant: { ID: leases[r.intn(3)], TTL: String(1000 + r.intn(100)) } });
    } else if (pick < 95) {
      out.push({ lease_revoke: { ID: leases[r.intn(3)] } });
    } else {
      out.push({ compaction: asFromWire('etcdserverpb.CompactionRequest', { revision: String(1 + r.intn(5)) }) });
    }
  }
  return out;
}

/** Answers and errors as comparable JSON (Buffers as strings). */
async function run(s: EtcdServer, reqs: StoreRequest[]): Promise<string[]> {
  const answers: string[] = [];
  for (const req of reqs) {
    let res: StoreResponse | { error: string };
    try { res = await s.propose(req); } catch (err) { res = { error: (err as Error).message }; }
    answers.push(JSON.stringify(res, (_k, v) => (v && v.type === 'Buffer' && Array.isArray(v.data) ? Buffer.from(v.data).toString() : v)));
  }
  return answers;
}

function state(s: EtcdServer): string {
  const kv = s.store.kv;
  const leases = [...s.store.lessor.leases.values()].map((l) => ({ id: l.id, ttl: l.ttl, keys: [...l.keys].sort() }));
  return JSON.stringify({ rev: kv.rev, compactRev: kv.compactRev, versions: kv.allVersions(), leases, events: kv.eventsSince(kv.compactRev) },
    (_k, v) => (v && v.type === 'Buffer' && Array.isArray(v.data) ? Buffer.from(v.data).toString() : v));
}

t.test('applying the proposer\'s own request object and decoding the entry give the same answers and state', async (t) => {
  for (const seed of [1, 2, 3]) {
    const own = new FakeLog(false), copies = new FakeLog(true);
    const a = server(own), b = server(copies);
    await a.start();
    await b.start();
    const reqs = randomRequests(400, seed);
    const [ra, rb] = await Promise.all([run(a, reqs), run(b, reqs)]);
    t.same(ra, rb, `seed ${seed}: same answers`);
    t.equal(state(a), state(b), `seed ${seed}: same keyspace, history and leases`);
    t.equal(a.stats.appliedWithoutDecoding, 400, 'the proposer never decoded its own entries');
    t.equal(b.stats.appliedWithoutDecoding, 0, 'a member seeing copies always decoded');
    t.ok(ra.some((x) => x.includes('error')) && ra.some((x) => !x.includes('error')), 'the mix has both successes and refusals');
    // a replay of the log on a fresh member (decoding everything) reaches the same state too
    const replay = new FakeLog(true);
    const c = server(replay);
    await c.start();
    const sm = (replay as unknown as { sm: StateMachine }).sm;
    own.log.forEach((data, i) => sm.apply(Uint8Array.from(data), i + 1));
    t.equal(state(c), state(a), `seed ${seed}: replay reaches the same state`);
    await a.stop(); await b.stop(); await c.stop();
  }
});
