// Consensus for a multi-member cluster: drives the pure Raft core (control/etcd/raft) with real time, disk
// and network. The Ready loop: persist snapshot + HardState + entries (one fsync, control/etcd/wal), send
// messages, install a received snapshot, apply committed entries, serve confirmed reads, advance. Proposals
// and reads arriving while an fsync is in flight are carried by the next Ready, so they share one fsync.
import crypto from 'node:crypto';
import { RawNode, seededRand, decodeConfChange, ProposalDroppedError, NONE } from '../raft/index.ts';
import type { ConfChange, ConfState, Entry, Message, Ready, ReadState } from '../raft/index.ts';
import { RaftDisk, memberDirs } from '../wal/index.ts';
import { PeerTransport } from '../peer/transport.ts';
import type { ClusterInfoMember } from '../peer/transport.ts';
import type { TlsFiles } from './listen.ts';
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
  /** Entries kept behind a snapshot for slow followers (etcd --experimental-snapshot-catchup-entries). */
  snapshotCatchUpEntries?: number;
  /** Peer TLS files (https:// peer URLs). */
  peerTls?: TlsFiles;
  /** Joining an existing cluster (--initial-cluster-state existing): start empty, the leader fills us in. */
  join?: boolean;
  log?: (level: 'info' | 'warn' | 'error', msg: string) => void;
  /** Told how long each WAL fsync took, in seconds (/metrics). */
  observeFsync?: (seconds: number) => void;
}

const READ_TIMEOUT_MS = 5000;
const TRACE = process.env.KTS_ETCD_TRACE === '1';

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
  /** Last log index known to be on disk. */
  private durableIndex = 0;
  /** Committed entries waiting for their WAL write before they are applied. */
  private pendingApply: Entry[] = [];
  /** The newest WAL write (writes complete in order). */
  private lastWrite: Promise<void> = Promise.resolve();
  private compacting = false;
  private lastSnapshotIndex = 0;
  private ticker: NodeJS.Timeout | undefined;
  private running = false;
  private wake: (() => void) | undefined;
  private loopDone: Promise<void> = Promise.resolve();
  private leader = false;
  private queuedReads: PendingRead['waiters'] = [];
  /** Proposals waiting for the next turn of the Ready loop, and how to tell each proposer it was refused. */
  private proposals: Uint8Array[] = [];
  private proposalDropped: Array<((err: Error) => void) | undefined> = [];
  private kickScheduled = false;
  private readonly reads = new Map<string, PendingRead>();
  /** Reads confirmed by the leader, waiting for this member to apply up to their index. */
  private confirmed: Array<{ index: number; read: PendingRead }> = [];
  private readonly log: (level: 'info' | 'warn' | 'error', msg: string) => void;
  onLeaderChange: (isLeader: boolean) => void = () => {};
  /** Told about every applied membership change (context: what the proposer attached). */
  onConfChange: (cc: ConfChange) => void = () => {};
  /** The member list the server keeps, for joining members. */
  membersView: () => ClusterInfoMember[] = () => [];
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
    const opened = await RaftDisk.open({
      walDir, snapDir, metadata: meta, catchUpEntries: this.opts.snapshotCatchUpEntries, observeFsync: this.opts.observeFsync,
    });
    for (const w of opened.warnings) this.log('warn', w);
    this.disk = opened.disk;
    if (!opened.fresh) {
      const stored = JSON.parse(new TextDecoder().decode(opened.metadata)) as { memberId: string; clusterId: string };
      if (stored.memberId !== this.opts.memberId) {
        throw new Error(`${walDir} belongs to member ${stored.memberId}, not ${this.opts.memberId} (check --name and --initial-cluster)`);
      }
    }
    // the transport exists before a snapshot is restored (restoring tells it about members); it listens later
    const peers = new Map([...this.opts.peers].map(([id, url]) => [Number(id), url]));
    this.transport = new PeerTransport({
      clusterId: this.opts.clusterId, memberId: this.id, peers, log: this.log, tls: this.opts.peerTls,
      handlers: {
        receive: (m) => {
          if (TRACE && m.type !== 'MsgHeartbeat' && m.type !== 'MsgHeartbeatResp') process.stderr.write(`${((performance.timeOrigin + performance.now()) % 100000).toFixed(1)} recv ${m.type} from ${m.from.toString(16)}\n`);
          if (!this.node) return;
          this.node.step(m); this.kick();
        },
        leaseRenew: (id) => this.leaseHandlers.renew(id),
        leaseRemaining: (id) => this.leaseHandlers.remaining(id),
        clusterInfo: () => ({ members: this.membersView() }),
      },
      unreachable: (to) => { this.node.reportUnreachable(to); this.kick(); },
      snapshotStatus: (to, ok) => { this.node.reportSnapshot(to, ok ? 'Finish' : 'Failure'); this.kick(); },
    });
    if (opened.snapshot) {
      sm.restore(opened.snapshot.data);
      this.applied = this.lastSnapshotIndex = opened.snapshot.metadata.index;
      this.confState = opened.snapshot.metadata.confState;
    }
    this.durableIndex = opened.storage.lastIndex();
    const electionTick = Math.max(2, Math.round((this.opts.electionMs ?? 1000) / (this.opts.heartbeatMs ?? 100)));
    this.node = new RawNode({
      id: this.id, storage: opened.storage, electionTick, heartbeatTick: 1,
      rand: seededRand(crypto.randomInt(2 ** 31)), applied: this.applied, checkQuorum: true, preVote: true,
      logger: (line) => this.log('info', `raft: ${line}`),
    });
    if (opened.fresh && !this.opts.join) this.node.bootstrap({ voters: [...this.opts.peers.keys()].map(Number) });

    for (const u of this.opts.listenPeerUrls) await this.transport.listen(u);
    this.running = true;
    // a lone voter need not wait an election timeout to lead
    if (this.soleVoter()) this.node.campaign();
    this.loopDone = this.loop();
    this.ticker = setInterval(() => { this.node.tick(); this.kick(); }, this.opts.heartbeatMs ?? 100);
  }


  /**
   * Wake the Ready loop once the current I/O callbacks have run (setImmediate), so that the proposals and peer
   * messages that arrive together are handled by one Ready: one append, one WAL write, one send per peer.
   */
  private kick(): void {
    if (this.kickScheduled) return;
    this.kickScheduled = true;
    setImmediate(() => {
      this.kickScheduled = false;
      const w = this.wake;
      this.wake = undefined;
      w?.();
    });
  }

  private async loop(): Promise<void> {
    while (this.running) {
      if (this.proposals.length > 0) this.flushProposals();
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

  /**
   * Handle one Ready without waiting for the disk: the core sees the new entries at once (storage), the WAL
   * write proceeds in the background, and everything that needs durability waits for it: a follower's
   * replies (acks and votes promise durable state) and applying entries (an acknowledged write must be on
   * this member's disk). A leader sends its appends right away, as etcd does, so its own fsync overlaps the
   * followers'; a follower forwards client proposals and reads right away (they promise nothing about its log,
   * and waiting for its fsync added up to one fsync to 2/3 of check perf's writes). The next Ready (new
   * proposals, new commits) is taken while this write is in flight.
   */
  private async handle(rd: Ready): Promise<void> {
    const t0 = TRACE ? performance.now() : 0;
    if (rd.softState) {
      const isLeader = rd.softState.raftState === 'Leader';
      if (isLeader !== this.leader) {
        this.leader = isLeader;
        this.log('info', `${isLeader ? 'became' : 'no longer'} leader (leader ${rd.softState.lead.toString(16)})`);
        this.onLeaderChange(isLeader);
      }
    }
    for (const rs of rd.readStates) this.readConfirmed(rs);
    const { now, afterWrite } = sendOrder(rd.messages, this.leader);
    if (rd.snapshot) {
      // rare (a lagging follower catching up): do it strictly in order
      await this.lastWrite;
      this.send(now);
      // RaftDisk also releases the WAL segments and snapshot files the received snapshot replaces
      await this.disk.persist(rd);
      this.durableIndex = Math.max(rd.snapshot.metadata.index, rd.entries.at(-1)?.index ?? 0);
      this.send(afterWrite);
      if (rd.snapshot.metadata.index > this.applied) {
        this.sm.restore(rd.snapshot.data);
        this.applied = this.lastSnapshotIndex = rd.snapshot.metadata.index;
        this.confState = rd.snapshot.metadata.confState;
      }
      this.pendingApply.push(...rd.committedEntries);
      this.drain();
      return;
    }
    // entries replaced by this Ready (a follower's conflicting tail) are no longer the durable ones
    if (rd.entries.length > 0) this.durableIndex = Math.min(this.durableIndex, rd.entries[0].index - 1);
    this.send(now);
    const d = this.disk;
    if (rd.entries.length > 0) d.storage.append(rd.entries);
    if (rd.hardState) d.storage.setHardState(rd.hardState);
    const lastIndex = rd.entries.at(-1)?.index;
    if (rd.hardState || rd.entries.length > 0) {
      const write = d.wal.save(rd.hardState, rd.entries, rd.mustSync);
      this.lastWrite = write.then(() => {
        if (lastIndex !== undefined) this.durableIndex = Math.max(this.durableIndex, lastIndex);
        this.send(afterWrite);
        if (TRACE && (rd.entries.length || rd.committedEntries.length)) {
          process.stderr.write(`${((performance.timeOrigin + t0) % 100000).toFixed(1)} durable ents=${rd.entries.length} committed=${rd.committedEntries.length} after ${(performance.now() - t0).toFixed(1)}ms\n`);
        }
        this.drain();
      }, (err: Error) => this.fail(err));
    } else if (afterWrite.length > 0) {
      // keep a follower's replies in order behind any write still in flight
      this.lastWrite = this.lastWrite.then(() => this.send(afterWrite));
    }
    this.pendingApply.push(...rd.committedEntries);
    this.drain();
  }

  /**
   * Hand messages to the transport. A MsgSnap built from this member's own snapshot carries no data (the
   * data is only in the snapshot file, see RaftDisk.compact): it is read from the file and sent when loaded.
   * If the file is gone (a newer snapshot replaced it), the core is told and retries with the newer one.
   */
  private send(messages: Message[]): void {
    const fromFile = messages.filter(needsSnapshotData);
    this.transport.send(fromFile.length === 0 ? messages : messages.filter((m) => !needsSnapshotData(m)));
    for (const m of fromFile) {
      this.disk.snapshotAt(m.snapshot!.metadata).then((snapshot) => this.transport.send([{ ...m, snapshot }]), (err: Error) => {
        this.log('warn', `snapshot for ${m.to.toString(16)} not sent: ${err.message}`);
        this.node.reportSnapshot(m.to, 'Failure');
        this.kick();
      });
    }
  }

  /** Apply committed entries that are durable here, in order; then serve reads and maybe snapshot. */
  private drain(): void {
    let n = 0;
    while (n < this.pendingApply.length && this.pendingApply[n].index <= this.durableIndex) n++;
    if (n > 0) {
      const ready = this.pendingApply.splice(0, n);
      for (const e of ready) {
        if (e.index <= this.applied) continue;
        if (TRACE) process.stderr.write(`${((performance.timeOrigin + performance.now()) % 100000).toFixed(1)} apply ${e.index}\n`);
        if (e.type === 'ConfChange') {
          const cc = decodeConfChange(e.data);
          this.confState = this.node.applyConfChange(cc);
          this.onConfChange(cc);
          // replaying a lone member's log: lead as soon as it knows it is the only voter
          if (this.soleVoter() && this.node.status().raftState !== 'Leader') this.node.campaign();
        } else if (e.data.byteLength > 0) {
          this.sm.apply(e.data, e.index);
        }
        this.applied = e.index;
      }
      this.kick(); // applying a conf change can produce a Ready
    }
    this.releaseReads();
    if (!this.compacting && this.applied - this.lastSnapshotIndex >= (this.opts.snapshotCount ?? 10000)) {
      this.compacting = true;
      const at = this.applied;
      const confState = this.confState;
      this.disk.compact(at, confState, this.sm.snapshot()).then(() => { this.lastSnapshotIndex = at; },
        (err: Error) => this.log('warn', `snapshot at ${at} failed: ${err.message}`)).finally(() => { this.compacting = false; });
    }
  }

  private fail(err: Error): void {
    if (!this.running) return;
    this.log('error', `wal write failed, stopping this member: ${err.message}`);
    this.running = false;
    clearInterval(this.ticker);
    this.kick();
  }

  private soleVoter(): boolean {
    if (this.node.status().raftState === 'Leader') return false;
    const voters = this.node.raft.prs.voters();
    return voters.length === 1 && voters[0] === this.id;
  }

  /** Propose a membership change; it takes effect (onConfChange) when applied. */
  proposeConfChange(cc: ConfChange): void {
    if (!this.running) throw etcdErrors.stopped();
    try {
      this.node.proposeConfChange(cc);
    } catch (err) {
      if (err instanceof ProposalDroppedError) throw etcdErrors.noLeader();
      throw err;
    }
    this.kick();
  }

  addPeer(id: string, url: string): void { this.transport.addPeer(Number(id), url); }
  removePeer(id: string): void { this.transport.removePeer(Number(id)); }

  propose(data: Uint8Array, dropped?: (err: Error) => void): void {
    if (TRACE) process.stderr.write(`${((performance.timeOrigin + performance.now()) % 100000).toFixed(1)} propose\n`);
    if (!this.running) throw etcdErrors.stopped();
    if (this.node.raft.lead === NONE) throw etcdErrors.noLeader();
    this.proposals.push(data);
    this.proposalDropped.push(dropped);
    this.kick();
  }

  /**
   * Everything proposed since the last Ready goes into the log as one MsgProp: one append, one MsgApp per
   * follower (a follower forwards them to the leader as one message), one WAL write. This is etcd's batching.
   */
  private flushProposals(): void {
    const datas = this.proposals;
    const dropped = this.proposalDropped;
    this.proposals = [];
    this.proposalDropped = [];
    try {
      this.node.proposeBatch(datas);
    } catch (err) {
      const e = !(err instanceof ProposalDroppedError) ? (err as Error)
        : /uncommitted/.test(err.message) ? etcdErrors.tooManyRequests() : etcdErrors.noLeader();
      for (const d of dropped) d?.(e);
    }
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
    // every response header asks: read the fields, not RawNode.status() (which builds per-member progress)
    const r = this.node.raft;
    return { memberId: this.opts.memberId, leaderId: String(r.lead), term: r.term, commitIndex: r.raftLog.committed, appliedIndex: this.applied };
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
    await this.lastWrite.catch(() => {});
    this.transport.close();
    await this.disk.close();
    for (const d of this.proposalDropped) d?.(etcdErrors.stopped());
    this.proposals = [];
    this.proposalDropped = [];
    for (const r of this.reads.values()) { clearTimeout(r.timer); for (const w of r.waiters) w.reject(etcdErrors.stopped()); }
    for (const w of this.queuedReads) w.reject(etcdErrors.stopped());
  }
}

/**
 * Which of a Ready's messages go before its WAL write is durable and which after. A leader sends everything
 * at once (its appends overlap the followers' fsyncs, as etcd does). A follower's replies (acks, votes)
 * promise durable state, so they wait; what it forwards to the leader for clients (proposals, reads)
 * promises nothing about its own log and goes at once.
 */
export function sendOrder(messages: Message[], leader: boolean): { now: Message[]; afterWrite: Message[] } {
  if (leader) return { now: messages, afterWrite: [] };
  const now: Message[] = [];
  const afterWrite: Message[] = [];
  for (const m of messages) (m.type === 'MsgProp' || m.type === 'MsgReadIndex' ? now : afterWrite).push(m);
  return { now, afterWrite };
}

function needsSnapshotData(m: Message): boolean {
  return m.type === 'MsgSnap' && m.snapshot !== undefined && m.snapshot.data.byteLength === 0;
}
