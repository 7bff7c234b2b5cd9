// Deterministic in-memory cluster for Raft tests: members are RawNodes over MemoryStorage, messages travel
// through a FIFO queue, links can be cut or made lossy (from a seeded random source), and every delivery is
// recorded in a transcript so a run can be replayed and compared.
import {
  MemoryStorage, RawNode, decodeConfChange, seededRand, ProposalDroppedError,
} from '../../../control/etcd/raft/index.ts';
import type { Entry, Message, Rand, ReadState, Snapshot } from '../../../control/etcd/raft/index.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

export interface Applied {
  index: number;
  term: number;
  data: string;
}

export class Member {
  readonly id: number;
  node: RawNode;
  storage: MemoryStorage;
  /** The application's state machine: every Normal entry with data, in apply order. */
  applied: Applied[] = [];
  appliedIndex = 0;
  readStates: ReadState[] = [];
  removed = false;
  constructor(id: number, node: RawNode, storage: MemoryStorage) {
    this.id = id;
    this.node = node;
    this.storage = storage;
  }
  get raft() {
    return this.node.raft;
  }
}

export interface NetworkOptions {
  seed?: number;
  electionTick?: number;
  heartbeatTick?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  maxSizePerMsg?: number;
  maxInflightMsgs?: number;
  learners?: number[];
  /** Start members with empty storage and write the membership into the log, as a real cluster does. */
  bootstrap?: boolean;
}

export class Network {
  readonly members = new Map<number, Member>();
  readonly transcript: string[] = [];
  private queue: Message[] = [];
  private readonly cut = new Set<string>();
  private readonly isolated = new Set<number>();
  /** Probability (0..1) that any message is dropped, drawn from the seeded source. */
  dropRate = 0;
  readonly rand: Rand;
  readonly opts: Required<Omit<NetworkOptions, 'learners'>>;
  private readonly initialConfState: { voters: number[]; learners: number[] };
  /** Optional hook that sees every message before it is delivered; return false to drop it. */
  filter: ((m: Message) => boolean) | undefined;

  constructor(ids: number[], opts: NetworkOptions = {}) {
    this.opts = {
      seed: opts.seed ?? 1, electionTick: opts.electionTick ?? 10, heartbeatTick: opts.heartbeatTick ?? 1,
      preVote: opts.preVote ?? true, checkQuorum: opts.checkQuorum ?? true, maxSizePerMsg: opts.maxSizePerMsg ?? 1024 * 1024,
      maxInflightMsgs: opts.maxInflightMsgs ?? 256, bootstrap: opts.bootstrap ?? false,
    };
    this.rand = seededRand(this.opts.seed);
    const learners = opts.learners ?? [];
    this.initialConfState = { voters: ids.filter((i) => !learners.includes(i)), learners };
    for (const id of ids) {
      const storage = this.opts.bootstrap ? new MemoryStorage() : new MemoryStorage(this.initialConfState);
      const node = this.newNode(id, storage);
      if (this.opts.bootstrap) node.bootstrap(this.initialConfState);
      this.members.set(id, new Member(id, node, storage));
    }
    for (const id of ids) this.processReady(id);
  }

  private newNode(id: number, storage: MemoryStorage, applied?: number): RawNode {
    return new RawNode({
      id, storage, electionTick: this.opts.electionTick, heartbeatTick: this.opts.heartbeatTick,
      rand: seededRand(this.opts.seed * 1000 + id), preVote: this.opts.preVote, checkQuorum: this.opts.checkQuorum,
      maxSizePerMsg: this.opts.maxSizePerMsg, maxInflightMsgs: this.opts.maxInflightMsgs, applied,
    });
  }

  /**
   * Add a brand-new member with empty storage. It starts from the same initial state as the others (the
   * bootstrap membership) and learns every later change from the leader's log or snapshot.
   */
  addMember(id: number): Member {
    const storage = this.opts.bootstrap ? new MemoryStorage() : new MemoryStorage(this.initialConfState);
    const node = new RawNode({
      id, storage, electionTick: this.opts.electionTick, heartbeatTick: this.opts.heartbeatTick,
      rand: seededRand(this.opts.seed * 1000 + id), preVote: this.opts.preVote, checkQuorum: this.opts.checkQuorum,
      maxSizePerMsg: this.opts.maxSizePerMsg, maxInflightMsgs: this.opts.maxInflightMsgs,
    });
    const m = new Member(id, node, storage);
    this.members.set(id, m);
    return m;
  }

  /** Simulate a crash and restart: volatile state is lost, storage (stable log, hard state) survives. */
  restart(id: number): void {
    const m = this.get(id);
    m.node = this.newNode(id, m.storage);
    // The state machine is rebuilt from the snapshot plus re-applied entries.
    const snap = m.storage.snapshot();
    m.applied = snap.metadata.index > 0 ? decodeState(snap.data) : [];
    m.appliedIndex = snap.metadata.index;
  }

  get(id: number): Member {
    const m = this.members.get(id);
    if (!m) throw new Error(`no member ${id}`);
    return m;
  }

  ids(): number[] {
    return [...this.members.keys()].sort((a, b) => a - b);
  }

  // ---- faults ----

  cutLink(a: number, b: number): void {
    this.cut.add(`${a}-${b}`);
    this.cut.add(`${b}-${a}`);
  }

  isolate(id: number): void {
    this.isolated.add(id);
  }

  /** Split the members into groups that can only talk inside their group. */
  partition(...groups: number[][]): void {
    for (const g of groups) for (const h of groups) {
      if (g === h) continue;
      for (const a of g) for (const b of h) this.cutLink(a, b);
    }
  }

  heal(): void {
    this.cut.clear();
    this.isolated.clear();
  }

  private canDeliver(m: Message): boolean {
    if (this.isolated.has(m.from) || this.isolated.has(m.to)) return false;
    if (this.cut.has(`${m.from}-${m.to}`)) return false;
    if (!this.members.has(m.to) || this.members.get(m.to)!.removed) return false;
    if (this.filter && !this.filter(m)) return false;
    if (this.dropRate > 0 && this.rand.intn(1_000_000) < this.dropRate * 1_000_000) return false;
    return true;
  }

  // ---- driving ----

  /** Handle every pending Ready of member id the way a real driver does: persist, send, apply, advance. */
  processReady(id: number): boolean {
    const m = this.get(id);
    let any = false;
    while (m.node.hasReady()) {
      any = true;
      const rd = m.node.ready();
      if (rd.snapshot) {
        m.storage.applySnapshot(rd.snapshot);
        m.applied = decodeState(rd.snapshot.data);
        m.appliedIndex = rd.snapshot.metadata.index;
      }
      if (rd.entries.length > 0) m.storage.append(rd.entries);
      if (rd.hardState) m.storage.setHardState(rd.hardState);
      for (const msg of rd.messages) this.queue.push(msg);
      for (const e of rd.committedEntries) this.apply(m, e);
      m.readStates.push(...rd.readStates);
      m.node.advance();
    }
    return any;
  }

  private apply(m: Member, e: Entry): void {
    m.appliedIndex = e.index;
    if (e.type === 'ConfChange') {
      const cc = decodeConfChange(e.data);
      m.node.applyConfChange(cc);
      m.applied.push({ index: e.index, term: e.term, data: `conf:${cc.type}:${cc.nodeId}` });
    } else if (e.data.byteLength > 0) {
      m.applied.push({ index: e.index, term: e.term, data: dec.decode(e.data) });
    }
  }

  /** Deliver every queued message (and the messages they cause) until nothing is left to do. */
  stabilize(maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      let any = false;
      for (const id of this.ids()) if (this.processReady(id)) any = true;
      if (this.queue.length === 0 && !any) return;
      this.deliverAll();
    }
    throw new Error('network did not stabilize');
  }

  /** Deliver the messages queued so far (not the ones they cause). */
  deliverAll(): void {
    const batch = this.queue;
    this.queue = [];
    for (const msg of batch) this.deliver(msg);
  }

  /**
   * Deliver a random part of the queued messages in a random order (Raft tolerates reordering and loss);
   * the rest stay queued for later. Randomness comes from the seeded source, so runs replay.
   */
  deliverSome(fraction: number): void {
    const q = this.queue;
    for (let i = q.length - 1; i > 0; i--) {
      const j = this.rand.intn(i + 1);
      [q[i], q[j]] = [q[j], q[i]];
    }
    const n = Math.ceil(q.length * fraction);
    const now = q.slice(0, n);
    this.queue = q.slice(n);
    for (const msg of now) this.deliver(msg);
  }

  pendingMessages(): number {
    return this.queue.length;
  }

  private deliver(msg: Message): void {
    const ok = this.canDeliver(msg);
    this.transcript.push(`${ok ? '' : 'DROP '}${describe(msg)}`);
    if (!ok) {
      // A real transport reports failed snapshot sends back to the leader.
      if (msg.type === 'MsgSnap' && this.members.has(msg.from)) this.get(msg.from).node.reportSnapshot(msg.to, 'Failure');
      return;
    }
    this.get(msg.to).node.step(msg);
    // ... and successful ones too, as etcd's transport does once the snapshot stream is written.
    if (msg.type === 'MsgSnap' && this.members.has(msg.from)) this.get(msg.from).node.reportSnapshot(msg.to, 'Finish');
  }

  tick(id: number, n = 1): void {
    for (let i = 0; i < n; i++) {
      this.transcript.push(`tick ${id}`);
      this.get(id).node.tick();
    }
  }

  /** Tick every member n times, stabilizing after each tick. */
  tickAll(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const id of this.ids()) if (!this.get(id).removed) this.tick(id);
      this.stabilize();
    }
  }

  /** Campaign member id and let the election finish. */
  elect(id: number): void {
    this.get(id).node.campaign();
    this.stabilize();
  }

  /** Tick everyone until some member is leader; returns its id. */
  tickUntilLeader(maxTicks = 1000): number {
    for (let i = 0; i < maxTicks; i++) {
      const l = this.leader();
      if (l !== undefined) return l;
      this.tickAll();
    }
    throw new Error(`no leader after ${maxTicks} ticks`);
  }

  /** The member that is leader in the highest term, if any. */
  leader(): number | undefined {
    let best: Member | undefined;
    for (const m of this.members.values()) {
      if (m.removed || m.raft.state !== 'Leader') continue;
      if (!best || m.raft.term > best.raft.term) best = m;
    }
    return best?.id;
  }

  propose(id: number, data: string): void {
    this.get(id).node.propose(enc.encode(data));
  }

  /** Propose and report whether it was accepted locally. */
  tryPropose(id: number, data: string): boolean {
    try {
      this.propose(id, data);
      return true;
    } catch (err) {
      if (err instanceof ProposalDroppedError) return false;
      throw err;
    }
  }

  /** Take a snapshot at the member's applied index and drop the log before `compactTo`. */
  compact(id: number, compactTo?: number): Snapshot {
    const m = this.get(id);
    const snap = m.storage.createSnapshot(m.appliedIndex, m.raft.prs.confState(), encodeState(m.applied));
    m.storage.compact(compactTo ?? m.appliedIndex);
    return snap;
  }

  /** Data of the applied Normal entries of member id. */
  data(id: number): string[] {
    return this.get(id).applied.map((a) => a.data);
  }
}

export function encodeState(applied: Applied[]): Uint8Array {
  return enc.encode(JSON.stringify(applied));
}

export function decodeState(data: Uint8Array): Applied[] {
  return JSON.parse(dec.decode(data)) as Applied[];
}

/** A compact, stable description of a message for transcripts. */
export function describe(m: Message): string {
  let s = `${m.from}->${m.to} ${m.type} term=${m.term}`;
  if (m.type === 'MsgApp' || m.type === 'MsgVote' || m.type === 'MsgPreVote') s += ` logTerm=${m.logTerm} index=${m.index}`;
  if (m.type === 'MsgApp') s += ` commit=${m.commit} entries=[${m.entries.map((e) => `${e.term}/${e.index}`).join(',')}]`;
  if (m.type === 'MsgAppResp') s += ` index=${m.index}${m.reject ? ` reject hint=${m.rejectHint}/${m.logTerm}` : ''}`;
  else if (m.reject) s += ' reject';
  if (m.type === 'MsgHeartbeat') s += ` commit=${m.commit}`;
  if (m.type === 'MsgSnap') s += ` snap=${m.snapshot!.metadata.term}/${m.snapshot!.metadata.index}`;
  return s;
}
