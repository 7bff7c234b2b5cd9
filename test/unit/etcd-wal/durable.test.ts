// The Raft core driven over real files: a member persists each Ready through RaftDisk, compacts with a
// snapshot, "crashes" and restarts, and recovers exactly its term, vote, commit, log and state machine.
import t from 'tap';
import type { Test } from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawNode, decodeConfChange, seededRand } from '../../../control/etcd/raft/index.ts';
import type { Snapshot } from '../../../control/etcd/raft/index.ts';
import { RaftDisk, memberDirs } from '../../../control/etcd/wal/index.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kts-raftdisk-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A one-member etcd-like driver: the state machine is the list of applied values. */
class Member {
  node!: RawNode;
  disk!: RaftDisk;
  state: string[] = [];
  applied = 0;
  readonly dataDir: string;
  constructor(dataDir: string) {
    this.dataDir = dataDir;
  }

  async start(): Promise<{ fresh: boolean; warnings: string[] }> {
    const opened = await RaftDisk.open({ ...memberDirs(this.dataDir), metadata: enc.encode('member-1'), catchUpEntries: 2 });
    this.disk = opened.disk;
    const snap: Snapshot | undefined = opened.snapshot;
    this.state = snap ? (JSON.parse(dec.decode(snap.data)) as string[]) : [];
    this.applied = snap?.metadata.index ?? 0;
    this.node = new RawNode({
      id: 1, storage: opened.storage, electionTick: 10, heartbeatTick: 1, rand: seededRand(1), applied: this.applied,
    });
    if (opened.fresh) this.node.bootstrap({ voters: [1] });
    await this.drain();
    return { fresh: opened.fresh, warnings: opened.warnings };
  }

  /** The Ready loop: persist (fsync), send (nothing to send here), apply, advance. */
  async drain(): Promise<void> {
    while (this.node.hasReady()) {
      const rd = this.node.ready();
      await this.disk.persist(rd);
      for (const e of rd.committedEntries) {
        if (e.type === 'ConfChange') this.node.applyConfChange(decodeConfChange(e.data));
        else if (e.data.byteLength > 0) this.state.push(dec.decode(e.data));
        this.applied = e.index;
      }
      this.node.advance();
    }
  }

  async put(v: string): Promise<void> {
    this.node.propose(enc.encode(v));
    await this.drain();
  }
}

t.test('a member recovers term, vote, commit, log and state after a restart, with and without a snapshot', async (t) => {
  const dir = await tempDir(t);
  const m = new Member(dir);
  t.equal((await m.start()).fresh, true);
  m.node.campaign();
  await m.drain();
  t.equal(m.node.raft.state, 'Leader');
  for (let i = 0; i < 10; i++) await m.put(`v${i}`);
  const before = m.node.status();
  await m.disk.close();

  const r1 = new Member(dir);
  const s1 = await r1.start();
  t.equal(s1.fresh, false);
  t.same(s1.warnings, []);
  const after = r1.node.status();
  t.equal(after.term, before.term);
  t.equal(after.vote, before.vote);
  t.equal(after.commit, before.commit);
  t.same(r1.state, m.state, 'state machine rebuilt by re-applying the log');
  t.equal(r1.node.raft.raftLog.lastIndex(), m.node.raft.raftLog.lastIndex());

  // Leader again after restart, then compact with a snapshot and write more.
  r1.node.campaign();
  await r1.drain();
  for (let i = 10; i < 15; i++) await r1.put(`v${i}`);
  const snapData = enc.encode(JSON.stringify(r1.state));
  await r1.disk.compact(r1.applied, r1.node.raft.prs.confState(), (sink) => sink(snapData));
  await r1.put('v15');
  const want = [...r1.state];
  const term = r1.node.status().term;
  await r1.disk.close();

  const r2 = new Member(dir);
  await r2.start();
  t.same(r2.state, want, 'snapshot plus the entries after it');
  t.equal(r2.node.status().term, term);
  t.same(r2.node.raft.prs.voters(), [1], 'membership restored from the snapshot');
  r2.node.campaign();
  await r2.drain();
  await r2.put('v16');
  t.equal(r2.state.at(-1), 'v16');
  await r2.disk.close();
});
