// The peer transport on loopback: Raft batches on the plain stream arrive whole and in order, the same port
// still answers gRPC (ClusterInfo), a member of another cluster is refused with etcd's message and nothing of
// its batch reaches Raft, a malformed frame is refused, and a peer with nothing listening is reported unreachable.
import t from 'tap';
import net from 'node:net';
import { once } from 'node:events';
import { fetchClusterInfo, PeerTransport } from '../../../control/etcd/peer/transport.ts';
import { FrameReader, frameHeader, RAFT_STREAM_MAGIC } from '../../../control/etcd/peer/stream.ts';
import { message } from '../../../control/etcd/raft/index.ts';
import type { Message } from '../../../control/etcd/raft/index.ts';
import { freePort } from '../../../lab/process.ts';
import { until } from '../../support/until.ts';

interface Member {
  transport: PeerTransport;
  received: Message[];
  logs: string[];
  unreachable: number[];
  url: string;
}

async function member(id: number, clusterId: string, peers: Map<number, string>): Promise<Member> {
  const m: Member = { received: [], logs: [], unreachable: [], url: peers.get(id)!, transport: undefined as never };
  m.transport = new PeerTransport({
    clusterId, memberId: id, peers,
    handlers: {
      receive: (msg) => m.received.push(msg),
      leaseRenew: async () => 0, leaseRemaining: async () => -1,
      clusterInfo: () => ({ members: [] }),
    },
    unreachable: (to) => m.unreachable.push(to),
    snapshotStatus: () => {},
    log: (level, msg) => m.logs.push(`${level} ${msg}`),
  });
  await m.transport.listen(m.url);
  t.teardown(() => m.transport.close());
  return m;
}

const app = (to: number, from: number, index: number) => message({ type: 'MsgApp', to, from, term: 2, logTerm: 2, index, commit: index,
  entries: [{ term: 2, index: index + 1, type: 'Normal', data: Buffer.from(`entry ${index + 1}`) }] });

t.test('FrameReader: frames come out whole however the bytes are cut', (t) => {
  const frames = [Buffer.from('a'), Buffer.alloc(0), Buffer.alloc(70_000, 9), Buffer.from('last one')];
  const wire = Buffer.concat(frames.flatMap((f) => [frameHeader(f.length), f]));
  for (const cut of [1, 3, 4, 5, 1000, wire.length]) {
    const reader = new FrameReader();
    const out: Buffer[] = [];
    for (let at = 0; at < wire.length; at += cut) out.push(...reader.push(wire.subarray(at, at + cut)));
    t.same(out.map((b) => b.toString('hex')), frames.map((b) => b.toString('hex')), `cut every ${cut} bytes`);
    t.ok(out.every((b) => b.buffer.byteLength === b.length || b.length === 0 || b === wire), 'frames own their memory (or are the whole read)');
  }
  t.end();
});

t.test('two members of one cluster, and strangers', async (t) => {
  const url = async () => `http://127.0.0.1:${await freePort()}`;
  const peers = new Map([[1, await url()], [2, await url()]]);
  const a = await member(1, '100', peers);
  const b = await member(2, '100', peers);

  // Many batches (one per event-loop turn) arrive in order.
  for (let i = 0; i < 2000; i++) {
    a.transport.send([app(2, 1, i)]);
    if (i % 100 === 99) await new Promise((r) => setImmediate(r));
  }
  await until('member 2 to receive 2000 messages', async () => b.received.length >= 2000, 10_000);
  t.same(b.received.map((m) => m.index), Array.from({ length: 2000 }, (_, i) => i), 'every message, in order');
  t.equal(Buffer.from(b.received[1999]!.entries[0]!.data).toString(), 'entry 2000', 'entry data intact');
  t.same(a.unreachable, [], 'no failure reported');

  const info = await fetchClusterInfo(b.url);
  t.equal(info.clusterId, '100', 'the same port answers gRPC');

  // A member of another cluster: refused with etcd's message, nothing reaches Raft, member 2 keeps serving.
  const stranger = await member(1, '200', new Map([[1, await url()], [2, b.url]]));
  const before = b.received.length;
  stranger.transport.send([app(2, 1, 5000)]);
  await until('the stranger to be refused', async () => stranger.logs.some((l) => /does not match this member's cluster ID/.test(l)), 10_000);
  t.match(stranger.logs.join('\n'), /peer 2 unreachable: etcdserver: request from cluster ID c8 does not match this member's cluster ID 64/);
  t.ok(stranger.unreachable.includes(2), 'the stranger reports member 2 unreachable');
  t.ok(b.logs.some((l) => /refused a raft batch/.test(l)), 'member 2 logs the refusal');
  a.transport.send([app(2, 1, 9999)]);
  await until('member 2 to receive again', async () => b.received.length > before, 10_000);
  t.same(b.received.slice(before).map((m) => m.index), [9999], 'only the member of its own cluster got through');

  // A malformed frame on a raw connection gets a refusal line.
  const raw = net.connect({ host: '127.0.0.1', port: Number(new URL(b.url).port) });
  await once(raw, 'connect');
  raw.write(Buffer.concat([RAFT_STREAM_MAGIC, frameHeader(3), Buffer.from([0xff, 0xff, 0xff])]));
  let answer = '';
  raw.on('data', (d) => { answer += d; });
  await once(raw, 'close');
  t.match(answer, /^etcdserver: malformed raft message: /, 'a malformed batch is refused by name');

  // A peer with nothing listening.
  const gone = await url();
  const lonely = await member(1, '100', new Map([[1, await url()], [3, gone]]));
  lonely.transport.send([app(3, 1, 1)]);
  await until('member 3 to be reported unreachable', async () => lonely.unreachable.includes(3), 10_000);
  t.match(lonely.logs.join('\n'), /peer 3 unreachable: connect ECONNREFUSED/);
});
