// Three Raft members on real WAL and snapshot files, messages passed in process: a member that was down while
// the others compacted their logs restarts from its own disk, receives and persists the leader's snapshot, and
// restarts again from that snapshot plus the entries after it.
import t from 'tap';
import type { Test } from 'tap';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawNode, decodeConfChange, seededRand } from '../../../control/etcd/raft/index.ts';
import type { Message } from '../../../control/etcd/raft/index.ts';
import { RaftDisk, memberDirs } from '../../../control/etcd/wal/index.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

class DiskMember {
  node!: RawNode;
  disk!: RaftDisk;
  state: string[] = [];
  applied = 0;
  up = false;
  readonly id: number;
  readonly dir: string;
  constructor(id: number, dir: string) {
    this.id = id;
    this.dir = dir;
  }

  async start(voters: number[]): Promise<void> {
    const opened = await RaftDisk.open({ ...memberDirs(this.dir), catchUpEntries: 0, segmentBytes: 2048 });
    this.disk = opened.disk;
    this.state = opened.snapshot ? (JSON.parse(dec.decode(opened.snapshot.data)) as string[]) : [];
    this.applied = opened.snapshot?.metadata.index ?? 0;
    this.node = new RawNode({
      id: this.id, storage: opened.storage, electionTick: 10, heartbeatTick: 1, rand: seededRand(this.id), applied: this.applied,
    });
    if (opened.fresh) this.node.bootstrap({ voters });
    this.up = true;
  }

  async stop(): Promise<void> {
    this.up = false;
    await this.disk.close();
  }

  async drain(out: Message[]): Promise<void> {
    while (this.node.hasReady()) {
      const rd = this.node.ready();
      await this.disk.persist(rd);
      out.push(...rd.messages);
      if (rd.snapshot) {
        this.state = JSON.parse(dec.decode(rd.snapshot.data)) as string[];
        this.applied = rd.snapshot.metadata.index;
      }
      for (const e of rd.committedEntries) {
        if (e.type === 'ConfChange') this.node.applyConfChange(decodeConfChange(e.data));
        else if (e.data.byteLength > 0) this.state.push(dec.decode(e.data));
        this.applied = e.index;
      }
      this.node.advance();
    }
  }

  compact(): Promise<unknown> {
    const data = enc.encode(JSON.stringify(this.state));
    return this.disk.compact(this.applied, this.node.raft.prs.confState(), (sink) => sink(data));
  }
}

class Cluster {
  readonly members = new Map<number, DiskMember>();
  snapshotsSent = 0;
  async settle(): Promise<void> {
    for (let round = 0; round < 1000; round++) {
      const out: Message[] = [];
      for (const m of this.members.values()) if (m.up) await m.drain(out);
      if (out.length === 0) return;
      for (const msg of out) {
        const to = this.members.get(msg.to)!;
        const from = this.members.get(msg.from)!;
        if (!to.up) {
          if (msg.type === 'MsgSnap') from.node.reportSnapshot(msg.to, 'Failure');
          else from.node.reportUnreachable(msg.to);
          continue;
        }
        if (msg.type === 'MsgSnap' && msg.snapshot!.data.byteLength === 0) {
          // a member's own snapshot keeps its data in the file only, as RaftMember sends it
          msg.snapshot = await from.disk.snapshotAt(msg.snapshot!.metadata);
        }
        to.node.step(msg);
        if (msg.type === 'MsgSnap') {
          this.snapshotsSent++;
          from.node.reportSnapshot(msg.to, 'Finish');
        }
      }
    }
    throw new Error('cluster did not settle');
  }
  async tick(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      for (const m of this.members.values()) if (m.up) m.node.tick();
      await this.settle();
    }
  }
}

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kts-raftcluster-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

t.test('a member that missed compacted entries recovers through a persisted snapshot', async (t) => {
  const root = await tempDir(t);
  const c = new Cluster();
  for (const id of [1, 2, 3]) {
    const m = new DiskMember(id, join(root, `m${id}`));
    await m.start([1, 2, 3]);
    c.members.set(id, m);
  }
  t.teardown(async () => { for (const m of c.members.values()) if (m.up) await m.stop(); });
  const [m1, m2, m3] = [1, 2, 3].map((id) => c.members.get(id)!);
  await c.settle(); // apply the bootstrap membership first: a member with unapplied conf changes may not campaign
  m1.node.campaign();
  await c.settle();
  t.equal(m1.node.raft.state, 'Leader');
  for (let i = 0; i < 20; i++) m1.node.propose(enc.encode(`a${i}`));
  await c.settle();
  t.equal(m3.state.length, 20);

  await m3.stop();
  for (let i = 0; i < 30; i++) {
    m1.node.propose(enc.encode(`b${i}`));
    await c.settle();
  }
  await m1.compact();
  await m2.compact();
  t.ok(m1.node.raft.raftLog.firstIndex() > m3.applied + 1, 'the leader no longer has the entries member 3 needs');
  t.ok((await readdir(memberDirs(m1.dir).walDir)).length >= 1);

  await m3.start([1, 2, 3]);
  await m3.drain([]);
  t.equal(m3.state.length, 20, 'member 3 restarted from its own WAL');
  await c.tick(3);
  t.ok(c.snapshotsSent >= 1, 'the leader sent a snapshot');
  t.equal(m3.state.length, 50, 'member 3 installed it');
  t.ok((await readdir(memberDirs(m3.dir).snapDir)).some((n) => n.endsWith('.snap')), 'and persisted it');
  m1.node.propose(enc.encode('c0'));
  await c.settle();
  t.same(m3.state, m1.state);

  const term = m3.node.status().term;
  const commit = m3.node.status().commit;
  await m3.stop();
  await m3.start([1, 2, 3]);
  t.same(m3.state, m1.state.slice(0, 50), 'restored from the received snapshot');
  await c.tick(2);
  t.same(m3.state, m1.state, 'and the entries after it');
  t.equal(m3.node.status().term, term);
  t.ok(m3.node.status().commit >= commit);
});
