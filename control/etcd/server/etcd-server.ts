// The etcd server core, independent of gRPC: every mutating request is encoded, proposed through the
// Consensus seam and applied to the store only when committed; the proposer's promise resolves with the
// result of that apply. Reads are served from the local store after a ReadIndex barrier (linearizable) or
// directly (serializable). Lease deadlines live here, on the leader only, and expire through the log.
import crypto from 'node:crypto';
import { Store } from '../mvcc/store.ts';
import type { StoreRequest, StoreResponse } from '../mvcc/store.ts';
import { EtcdError, etcdErrors } from '../mvcc/errors.ts';
import { messageType, encodeMessage, decodeMessage } from '../proto/load.ts';
import { decodeInternalPut, encodeInternalPut } from '../proto/put-codec.ts';
import type { Consensus } from './consensus.ts';
import { LeaseClock } from './lease-clock.ts';
import { snapshotWriter, restoreSnapshot } from './snapshot.ts';
import type { RangeRequest, RangeResponse, TxnRequest } from '../mvcc/types.ts';

export const DEFAULT_MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;
const REQUEST_TIMEOUT_MS = 7000;

export interface Member { ID: string; name: string; peerURLs: string[]; clientURLs: string[]; isLearner: boolean }

export interface ServerOptions {
  name: string;
  memberId: string;
  clusterId: string;
  members: Member[];
  consensus: Consensus;
  maxRequestBytes?: number;
  /** Seconds; leases granted shorter are raised to it. */
  minLeaseTTL?: number;
  log?: (level: 'info' | 'warn' | 'error', msg: string) => void;
}

export interface ResponseHeader { cluster_id: string; member_id: string; revision: number; raft_term: number }

/** A member's published attributes (name and client URLs are known only once it runs). */
export interface MemberAttrs { ID: string; name: string; peerURLs: string[]; clientURLs: string[] }

type InternalRequest = StoreRequest & { id: string };

interface Waiter {
  resolve: (r: StoreResponse) => void; reject: (e: Error) => void; timer: NodeJS.Timeout;
  /** What was proposed: the request and its encoding (the leader applies that very entry data object). */
  req: InternalRequest | { id: string; member_update: MemberAttrs }; data: Uint8Array;
}

export class EtcdServer {
  readonly store: Store;
  readonly consensus: Consensus;
  readonly leases: LeaseClock;
  readonly name: string;
  readonly memberId: string;
  readonly clusterId: string;
  members: Member[];
  readonly maxRequestBytes: number;
  readonly version = '3.4.0';
  private readonly waiters = new Map<string, Waiter>();
  private readonly idPrefix: bigint;
  private seq = 0n;
  private readonly internalType = messageType('ktsetcd.InternalRequest');
  readonly log: (level: 'info' | 'warn' | 'error', msg: string) => void;
  /** Counters for /metrics. */
  readonly stats = { proposalsCommitted: 0, proposalsFailed: 0, applied: 0, appliedWithoutDecoding: 0 };

  constructor(opts: ServerOptions) {
    this.name = opts.name;
    this.memberId = opts.memberId;
    this.clusterId = opts.clusterId;
    this.members = opts.members;
    this.consensus = opts.consensus;
    this.maxRequestBytes = opts.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
    this.store = new Store(opts.minLeaseTTL);
    this.log = opts.log ?? (() => {});
    // request ids: member id in the high bits, a counter below, unique across members and restarts
    this.idPrefix = (BigInt(opts.memberId) & 0xffffn) << 48n | (BigInt(Date.now()) & 0xffffffn) << 24n;
    this.leases = new LeaseClock((id) => this.expireLease(id));
    this.consensus.onLeaderChange = (leader) => {
      if (leader) this.leases.promote(this.store.lessor.leases.values()); else this.leases.demote();
    };
  }

  async start(): Promise<void> {
    if (this.consensus.leaseHandlers) {
      this.consensus.leaseHandlers = {
        renew: async (id) => (this.consensus.isLeader() && this.store.lessor.get(id) ? this.leases.renew(id) : 0),
        remaining: async (id) => (this.consensus.isLeader() ? this.leases.remaining(id) : -1),
      };
    }
    await this.consensus.start({
      apply: (data, index) => this.applyEntry(data, index),
      snapshot: () => snapshotWriter(this.store, this.members),
      restore: (data) => {
        const members = restoreSnapshot(this.store, data);
        if (members.length > 0) {
          this.members = members.map((m) => ({ ID: String(m.ID), name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs, isLearner: false }));
          this.onMembersRestored(this.members);
        }
        this.leases.reset(this.store.lessor.leases.values(), this.consensus.isLeader());
      },
    });
    this.leases.start();
    if (this.members.length > 1) void this.publish();
  }

  /** Tell the cluster this member's name and client URLs (through the log, as etcd publishes them). */
  private async publish(): Promise<void> {
    const self = this.members.find((m) => m.ID === this.memberId);
    for (let attempt = 0; self && !this.stopped; attempt++) {
      if (self.clientURLs.length === 0) { await new Promise((r) => setTimeout(r, 50)); continue; }
      try {
        await this.propose({ member_update: { ID: self.ID, name: self.name, peerURLs: self.peerURLs, clientURLs: self.clientURLs } });
        return;
      } catch {
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * (attempt + 1))));
      }
    }
  }

  private updateMember(m: MemberAttrs): void {
    const cur = this.members.find((x) => x.ID === String(m.ID));
    if (cur) {
      if (m.name) cur.name = m.name;
      if (m.peerURLs.length > 0) cur.peerURLs = m.peerURLs;
      if (m.clientURLs.length > 0) cur.clientURLs = m.clientURLs;
    } else {
      this.members.push({ ID: String(m.ID), name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs, isLearner: false });
    }
  }

  /** Keep-alive: the leader renews; a follower forwards to the leader. TTL, or 0 for an unknown lease. */
  async renewLease(id: string): Promise<number> {
    if (this.consensus.isLeader()) return this.store.lessor.get(id) ? this.leases.renew(id) : 0;
    if (!this.consensus.forwardLeaseRenew) return 0;
    return this.consensus.forwardLeaseRenew(id);
  }

  /** Seconds left on a lease (leader's clock), or -1. */
  async leaseRemaining(id: string): Promise<number> {
    if (this.consensus.isLeader() || !this.consensus.forwardLeaseRemaining) return this.leases.remaining(id);
    return this.consensus.forwardLeaseRemaining(id);
  }

  private stopped = false;
  /** Called after a snapshot replaced the member list (the transport must know every peer). */
  onMembersRestored: (members: Member[]) => void = () => {};

  async stop(): Promise<void> {
    this.stopped = true;
    this.leases.stop();
    await this.consensus.stop();
    for (const [id, w] of this.waiters) { clearTimeout(w.timer); w.reject(etcdErrors.stopped()); this.waiters.delete(id); }
  }

  header(): ResponseHeader {
    return { cluster_id: this.clusterId, member_id: this.memberId, revision: this.store.rev, raft_term: this.consensus.status().term };
  }

  private nextId(): string {
    this.seq = (this.seq + 1n) & 0xffffffn;
    return (this.idPrefix | this.seq).toString();
  }

  /** Propose a mutating request and wait for the result of applying it. */
  propose(req: StoreRequest | { member_update: MemberAttrs }): Promise<StoreResponse> {
    const id = this.nextId();
    const full = { id, ...req } as Waiter['req'];
    const data = 'put' in req && req.put ? encodeInternalPut(id, req.put) : encodeMessage(this.internalType, full);
    if (data.byteLength > this.maxRequestBytes) return Promise.reject(etcdErrors.requestTooLarge());
    return new Promise((resolve, reject) => {
      const fail = (err: Error) => {
        const w = this.waiters.get(id);
        if (!w || w.data !== data) return;
        clearTimeout(w.timer);
        this.waiters.delete(id);
        this.stats.proposalsFailed++;
        reject(err);
      };
      const timer = setTimeout(() => fail(etcdErrors.timeout()), REQUEST_TIMEOUT_MS);
      this.waiters.set(id, { resolve, reject, timer, req: full, data });
      try {
        this.consensus.propose(data, fail);
      } catch (err) {
        fail(err as Error);
      }
    });
  }

  /** Apply one committed log entry; errors are the request's answer, never the server's end. */
  private applyEntry(data: Uint8Array, _index: number): void {
    // The member that proposed an entry applies the very data object it proposed (Raft keeps the reference):
    // it already holds the decoded request, so only the others decode (both give the same request).
    const peeked = peekRequestId(data);
    const mine = peeked === undefined ? undefined : this.waiters.get(peeked);
    let req: InternalRequest;
    if (mine && mine.data === data) {
      req = mine.req as InternalRequest;
      this.stats.appliedWithoutDecoding++;
    } else {
      try {
        // decoded bytes fields are views of the input's type: they must be Buffers (keys are read with toString)
        const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
        req = decodeInternalPut(buf) ?? decodeMessage<InternalRequest>(this.internalType, buf);
      } catch (err) {
        this.log('error', `skipping undecodable log entry: ${(err as Error).message}`);
        return;
      }
    }
    this.stats.applied++;
    const waiter = this.waiters.get(req.id);
    if (waiter) { this.waiters.delete(req.id); clearTimeout(waiter.timer); }
    const member = (req as { member_update?: MemberAttrs }).member_update;
    if (member) {
      this.updateMember(member);
      waiter?.resolve({});
      return;
    }
    let res: StoreResponse;
    try {
      res = this.store.apply(req);
    } catch (err) {
      if (!(err instanceof EtcdError)) this.log('error', `apply failed: ${(err as Error).stack}`);
      waiter?.reject(err as Error);
      return;
    }
    if ('lease_grant' in req && req.lease_grant) {
      const lease = this.store.lessor.get(String(req.lease_grant.ID));
      if (lease) this.leases.granted(lease.id, lease.ttl);
    }
    if ('lease_revoke' in req && req.lease_revoke) this.leases.revoked(String(req.lease_revoke.ID));
    this.stats.proposalsCommitted++;
    waiter?.resolve(res);
  }

  /** Range, linearizable unless the request asks for a serializable read. */
  async range(r: RangeRequest): Promise<RangeResponse> {
    if (!r.serializable) await this.consensus.readIndex();
    return this.store.range(r);
  }

  /** Txn: read-only ones are answered locally after the read barrier; others go through the log. */
  async txn(t: TxnRequest): Promise<StoreResponse> {
    if (isReadOnlyTxn(t)) {
      await this.consensus.readIndex();
      return this.store.apply({ txn: t });
    }
    return this.propose({ txn: t });
  }

  /** A fresh lease ID chosen before proposing, so that every member applies the same one. */
  newLeaseId(): string {
    for (;;) {
      const id = crypto.randomBytes(8).readBigUInt64BE() & 0x7fffffffffffffffn;
      if (id !== 0n && !this.store.lessor.get(id.toString())) return id.toString();
    }
  }

  private expireLease(id: string): void {
    if (!this.consensus.isLeader() || !this.store.lessor.get(id)) return;
    this.propose({ lease_revoke: { ID: id } }).catch((err: Error) => {
      this.log('warn', `revoking expired lease ${id}: ${err.message}`);
      this.leases.retry(id);
    });
  }
}

/** The id (field 1, written first) of an encoded InternalRequest, without decoding the rest. */
export function peekRequestId(data: Uint8Array): string | undefined {
  if (data.byteLength < 2 || data[0] !== 0x08) return undefined;
  let v = 0n;
  for (let i = 1, shift = 0n; i < data.byteLength && i <= 10; i++, shift += 7n) {
    const b = data[i];
    v |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) return BigInt.asUintN(64, v).toString();
  }
  return undefined;
}

export function isReadOnlyTxn(t: TxnRequest): boolean {
  const ops = [...(t.success ?? []), ...(t.failure ?? [])];
  return ops.every((op) => op.request_range || (op.request_txn && isReadOnlyTxn(op.request_txn)));
}

/** etcd-style 64-bit IDs, kept below 2^53 so Raft can use them as numbers. */
export function memberIdFor(peerURLs: string[], clusterToken: string): string {
  const h = crypto.createHash('sha1').update([...peerURLs].sort().join('') + clusterToken).digest();
  const id = h.readBigUInt64BE() & 0x1fffffffffffffn;
  return (id === 0n ? 1n : id).toString();
}

export function clusterIdFor(memberIds: string[], clusterToken: string): string {
  const h = crypto.createHash('sha1').update([...memberIds].sort().join(',') + clusterToken).digest();
  return (h.readBigUInt64BE() & 0x1fffffffffffffn).toString();
}
