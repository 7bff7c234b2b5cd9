// Consensus for a multi-member cluster: drives the pure Raft core (control/etcd/raft) with real time, disk
// and network. The Ready loop: persist snapshot + HardState + entries (one fsync, control/etcd/wal), send
// messages, install a received snapshot, apply committed entries, serve confirmed reads, advance. Proposals
// and reads arriving while an fsync is in flight are carried by the next Ready, so they share one fsync.
import crypto from 'node:crypto';
import { RawNode, seededRand, decodeConfChange, ProposalDroppedError } from '../raft/index.ts';
import type { ConfState, Ready, ReadState } from '../raft/index.ts';
import { RaftDisk, memberDirs } from '../wal/index.ts';
import { PeerTransport } from '../peer/transport.ts';
import { etcdErrors } from '../mvcc/errors.ts';
import type { Consensus, ConsensusStatus, StateMachine } from './consensus.ts';

export interface RaftMemberOptions {
  memberId: string;
  clusterId: string;
  dataDir: string;
  /** member id -> peer URL, every voter of the initial cluster (this member included) */
  peers: Map<string, string>;
  listenPeerUrls: string[];
  heartbeatMs?: number;
  electionMs?: number;
  /** Applied entries between snapshots (etcd --snapshot-count). */
  snapshotCount?: number;
  log?: (level: 'info' | 'warn' | 'error', msg: string) => void;
}

const READ_TIMEOUT_MS = 5000;

interface PendingRead { ctx: string; waiters: Array<{ resolve: () => void; reject: (e: Error) => void }>; timer: NodeJS.Timeout }

export class RaftMember implements Consensus {
  private readonly opts: RaftMemberOptions;
  private readonly id: number;
  private node!: RawNode;
  private disk!: RaftDisk;
  private transport!: PeerTransport;
  private sm!: StateMachine;
  private confState: ConfState = { voters: [], learners: [] };
  private applied = 0;
  private lastSnapshotIndex = 0;
  private ticker: NodeJS.Timeout | undefined;
  private running = false;
  private wake: (() => void) | undefined;
  private loopDone: Promise<void> = Promise.resolve();
  private leader = false;
  private queuedReads: PendingRead['waiters'] = [];
  private readonly reads = new Map<string, PendingRead>();
  /** Reads confirmed by the leader, waiting for this member to apply up to their index. */
  private confirmed: Array<{ index: number; read: PendingRead }> = [];
  private readonly log: (level: 'info' | 'warn' | 'error', msg: string) => void;
  onLeaderChange: (isLeader: boolean) => void = () => {};
  /** How the leader answers keep-alives forwarded by followers (the server owns the lease clock). */
  leaseHandlers: { renew(id: string): Promise<number>; remaining(id: string): Promise<number> } = {
    renew: async () => 0, remaining: async () => -1,
  };

  constructor(opts: RaftMemberOptions) {
    this.opts = opts;
    this.id = Number(opts.memberId);
    this.log = opts.log ?? (() => {});
  }

  async start(sm: StateMachine): Promise<void> {
    this.sm = sm;
    const { walDir, snapDir } = memberDirs(this.opts.dataDir);
    const meta = new TextEncoder().encode(JSON.stringify({ memberId: this.opts.memberId, clusterId: this.opts.clusterId }));
    const opened = await RaftDisk.open({ walDir, snapDir, metadata: meta });
    for (const w of opened.warnings) this.log('warn', w);
    this.disk = opened.disk;
    if (!opened.fresh) {
      const stored = JSON.parse(new TextDecoder().decode(opened.metadata)) as { memberId: string; clusterId: string };
      if (stored.memberId !== this.opts.memberId) {
        throw new Error(`${walDir} belongs to member ${stored.memberId}, not ${this.opts.memberId} (check --name and --initial-cluster)`);
      }
    }
    if (opened.snapshot) {
      sm.restore(opened.snapshot.data);
      this.applied = this.lastSnapshotIndex = opened.snapshot.metadata.index;
      this.confState = opened.snapshot.metadata.confState;
    }
    const electionTick = Math.max(2, Math.round((this.opts.electionMs ?? 1000) / (this.opts.heartbeatMs ?? 100)));
    this.node = new RawNode({
      id: this.id, storage: opened.storage, electionTick, heartbeatTick: 1,
      rand: seededRand(crypto.randomInt(2 ** 31)), applied: this.applied, checkQuorum: true, preVote: true,
      logger: (line) => this.log('info', `raft: ${line}`),
    });
    if (opened.fresh) this.node.bootstrap({ voters: [...this.opts.peers.keys()].map(Number) });

    const peers = new Map([...this.opts.peers].map(([id, url]) => [Number(id), url]));
    this.transport = new PeerTransport({
      clusterId: this.opts.clusterId, memberId: this.id, peers, log: this.log,
      handlers: {
        receive: (m) => { this.node.step(m); this.kick(); },
        leaseRenew: (id) => this.leaseHandlers.renew(id),
        leaseRemaining: (id) => this.leaseHandlers.remaining(id),
      },
      unreachable: (to) => { this.node.reportUnreachable(to); this.kick(); },
      snapshotStatus: (to, ok) => { this.node.reportSnapshot(to, ok ? 'Finish' : 'Failure'); this.kick(); },
    });
    for (const u of this.opts.listenPeerUrls) await this.transport.listen(u);
    this.running = true;
    this.loopDone = this.loop();
    this.ticker = setInterval(() => { this.node.tick(); this.kick(); }, this.opts.heartbeatMs ?? 100);
  }


  private kick(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      if (this.queuedReads.length > 0) this.issueRead();
      if (!this.node.hasReady()) {
        await new Promise<void>((resolve) => { this.wake = resolve; });
        continue;
      }
      const rd = this.node.ready();
      try {
        await this.handle(rd);
      } catch (err) {
        this.log('error', `raft ready loop failed, stopping this member: ${(err as Error).stack}`);
        this.running = false;
        clearInterval(this.ticker);
        return;
      }
      this.node.advance();
    }
  }

  private async handle(rd: Ready): Promise<void> {
    if (rd.softState) {
      const isLeader = rd.softState.raftState === 'Leader';
      if (isLeader !== this.leader) {
        this.leader = isLeader;
        this.log('info', `${isLeader ? 'became' : 'no longer'} leader (leader ${rd.softState.lead.toString(16)})`);
        this.onLeaderChange(isLeader);
      }
    }
    await this.disk.persist(rd);
    this.transport.send(rd.messages);
    if (rd.snapshot && rd.snapshot.metadata.index > this.applied) {
      this.sm.restore(rd.snapshot.data);
      this.applied = this.lastSnapshotIndex = rd.snapshot.metadata.index;
      this.confState = rd.snapshot.metadata.confState;
    }
    for (const e of rd.committedEntries) {
      if (e.index <= this.applied) continue;
      if (e.type === 'ConfChange') {
        this.confState = this.node.applyConfChange(decodeConfChange(e.data));
      } else if (e.data.byteLength > 0) {
        this.sm.apply(e.data, e.index);
      }
      this.applied = e.index;
    }
    for (const rs of rd.readStates) this.readConfirmed(rs);
    this.releaseReads();
    if (this.applied - this.lastSnapshotIndex >= (this.opts.snapshotCount ?? 10000)) {
      await this.disk.compact(this.applied, this.confState, this.sm.snapshot());
      this.lastSnapshotIndex = this.applied;
    }
  }

  propose(data: Uint8Array): void {
    if (!this.running) throw etcdErrors.stopped();
    try {
      this.node.propose(data);
    } catch (err) {
      if (err instanceof ProposalDroppedError) throw etcdErrors.noLeader();
      throw err;
    }
    this.kick();
  }

  readIndex(): Promise<void> {
    if (!this.running) return Promise.reject(etcdErrors.stopped());
    return new Promise((resolve, reject) => {
      this.queuedReads.push({ resolve, reject });
      this.kick();
    });
  }

  /** One ReadIndex request for every read queued since the last one. */
  private issueRead(): void {
    const waiters = this.queuedReads;
    this.queuedReads = [];
    const ctx = crypto.randomBytes(8);
    const key = ctx.toString('hex');
    const read: PendingRead = {
      ctx: key, waiters,
      timer: setTimeout(() => { this.reads.delete(key); for (const w of waiters) w.reject(etcdErrors.timeout()); }, READ_TIMEOUT_MS),
    };
    try {
      this.node.readIndex(ctx);
    } catch (err) {
      clearTimeout(read.timer);
      const e = err instanceof ProposalDroppedError ? etcdErrors.noLeader() : (err as Error);
      for (const w of waiters) w.reject(e);
      return;
    }
    this.reads.set(key, read);
  }

  private readConfirmed(rs: ReadState): void {
    const key = Buffer.from(rs.requestCtx).toString('hex');
    const read = this.reads.get(key);
    if (!read) return;
    this.reads.delete(key);
    this.confirmed.push({ index: rs.index, read });
  }

  private releaseReads(): void {
    if (this.confirmed.length === 0) return;
    const still: typeof this.confirmed = [];
    for (const c of this.confirmed) {
      if (c.index <= this.applied) { clearTimeout(c.read.timer); for (const w of c.read.waiters) w.resolve(); } else still.push(c);
    }
    this.confirmed = still;
  }

  isLeader(): boolean { return this.leader; }

  status(): ConsensusStatus {
    const st = this.node.status();
    return { memberId: this.opts.memberId, leaderId: String(st.lead), term: st.term, commitIndex: st.commit, appliedIndex: this.applied };
  }

  forwardLeaseRenew(id: string): Promise<number> {
    const lead = this.node.status().lead;
    if (!lead) return Promise.reject(etcdErrors.noLeader());
    return this.transport.leaseRenew(lead, id);
  }

  forwardLeaseRemaining(id: string): Promise<number> {
    const lead = this.node.status().lead;
    if (!lead) return Promise.reject(etcdErrors.noLeader());
    return this.transport.leaseRemaining(lead, id);
  }

  async stop(): Promise<void> {
    if (!this.running && !this.ticker) return;
    this.running = false;
    clearInterval(this.ticker);
    this.ticker = undefined;
    this.kick();
    await this.loopDone;
    this.transport.close();
    await this.disk.close();
    for (const r of this.reads.values()) { clearTimeout(r.timer); for (const w of r.waiters) w.reject(etcdErrors.stopped()); }
    for (const w of this.queuedReads) w.reject(etcdErrors.stopped());
  }
}
