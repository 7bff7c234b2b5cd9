// The replicated state machine: applies committed requests (put, delete, txn, compaction, lease grant and
// revoke) to the keyspace and lessor, deterministically, and serves reads. Everything here is pure: no
// clocks, no I/O, so every member that applies the same log reaches the same state.
import { Keyspace, NO_LEASE, keyString, rangeEndString } from './keyspace.ts';
import { Lessor } from './lessor.ts';
import { EtcdError, etcdErrors } from './errors.ts';
import type {
  Compare, CompactionRequest, DeleteRangeRequest, DeleteRangeResponse, Int64, KeyValue, LeaseGrantRequest,
  LeaseGrantResponse, LeaseRevokeRequest, PutRequest, PutResponse, RangeRequest, RangeResponse, RequestOp,
  ResponseOp, TxnRequest, TxnResponse,
} from './types.ts';

export const MAX_TXN_OPS = 128;

const num = (v: Int64 | undefined | null): number => (v === undefined || v === null ? 0 : Number(v));
const leaseId = (v: Int64 | undefined | null): string => (v === undefined || v === null ? NO_LEASE : String(v));

function withoutValue(kv: KeyValue): KeyValue { return { ...kv, value: Buffer.alloc(0) }; }

export type StoreRequest =
  | { put: PutRequest } | { delete_range: DeleteRangeRequest } | { txn: TxnRequest }
  | { compaction: CompactionRequest } | { lease_grant: LeaseGrantRequest } | { lease_revoke: LeaseRevokeRequest };

interface TxnPlan { succeeded: boolean; ops: RequestOp[]; nested: TxnPlan[] }

export type StoreResponse = PutResponse | DeleteRangeResponse | TxnResponse | LeaseGrantResponse | Record<string, never>;

export class Store {
  readonly kv = new Keyspace();
  readonly lessor: Lessor;

  constructor(minLeaseTTL?: number) {
    this.lessor = new Lessor(minLeaseTTL);
    this.kv.onLeaseChange = (key, oldLease, newLease) => {
      if (oldLease !== NO_LEASE) this.lessor.detach(oldLease, key);
      if (newLease !== NO_LEASE) this.lessor.attach(newLease, key);
    };
  }

  get rev(): number { return this.kv.rev; }

  /** Apply one committed request; throws EtcdError for requests etcd would reject (state unchanged). */
  apply(req: StoreRequest): StoreResponse {
    if ('put' in req && req.put) return this.writeTxn(() => this.put(req.put));
    if ('delete_range' in req && req.delete_range) return this.writeTxn(() => this.deleteRange(req.delete_range));
    if ('txn' in req && req.txn) return this.txn(req.txn);
    if ('compaction' in req && req.compaction) { this.kv.compact(num(req.compaction.revision)); return {}; }
    if ('lease_grant' in req && req.lease_grant) return this.leaseGrant(req.lease_grant);
    if ('lease_revoke' in req && req.lease_revoke) return this.leaseRevoke(req.lease_revoke);
    throw etcdErrors.badRequest('unknown request');
  }

  private writeTxn<T>(fn: () => T): T {
    this.kv.begin();
    try { return fn(); } finally { this.kv.commit(); }
  }

  range(r: RangeRequest): RangeResponse {
    if (!r.key || r.key.length === 0) throw etcdErrors.emptyKey();
    const sortOrder = r.sort_order ?? 'NONE';
    const sortTarget = r.sort_target ?? 'KEY';
    const limit = num(r.limit);
    const minMod = num(r.min_mod_revision), maxMod = num(r.max_mod_revision);
    const minCreate = num(r.min_create_revision), maxCreate = num(r.max_create_revision);
    const filtered = minMod || maxMod || minCreate || maxCreate;
    const fetchAll = sortOrder !== 'NONE' || filtered;
    const res = this.kv.range(r.key, r.range_end, {
      rev: num(r.revision), limit: !fetchAll && limit > 0 ? limit + 1 : 0, countOnly: r.count_only,
    });
    let kvs = res.kvs;
    if (filtered) {
      kvs = kvs.filter((kv) => !(maxMod && kv.mod_revision > maxMod) && !(minMod && kv.mod_revision < minMod)
        && !(maxCreate && kv.create_revision > maxCreate) && !(minCreate && kv.create_revision < minCreate));
    }
    const order = sortTarget !== 'KEY' && sortOrder === 'NONE' ? 'ASCEND' : sortOrder;
    if (order !== 'NONE' && !(order === 'ASCEND' && sortTarget === 'KEY')) {
      const by = compareBy(sortTarget);
      kvs = [...kvs].sort(order === 'DESCEND' ? (a, b) => by(b, a) : by);
    }
    let more = false;
    if (limit > 0 && kvs.length > limit) { kvs = kvs.slice(0, limit); more = true; }
    if (r.keys_only) kvs = kvs.map(withoutValue);
    return { kvs, more, count: res.count };
  }

  private checkPut(p: PutRequest): void {
    if (!p.key || p.key.length === 0) throw etcdErrors.emptyKey();
    if (p.ignore_value && p.value && p.value.length > 0) throw etcdErrors.valueProvided();
    if (p.ignore_lease && leaseId(p.lease) !== NO_LEASE) throw etcdErrors.leaseProvided();
    if ((p.ignore_value || p.ignore_lease) && !this.kv.range(p.key, null).kvs[0]) throw etcdErrors.keyNotFound();
    const lease = leaseId(p.lease);
    if (!p.ignore_lease && lease !== NO_LEASE && !this.lessor.get(lease)) throw etcdErrors.leaseNotFound();
  }

  private put(p: PutRequest): PutResponse {
    this.checkPut(p);
    const prev = this.kv.put(p.key, p.ignore_value ? undefined : (p.value ?? Buffer.alloc(0)),
      p.ignore_lease ? undefined : leaseId(p.lease));
    return p.prev_kv && prev ? { prev_kv: prev } : {};
  }

  private deleteRange(d: DeleteRangeRequest): DeleteRangeResponse {
    if (!d.key || d.key.length === 0) throw etcdErrors.emptyKey();
    const prev = this.kv.deleteRange(d.key, d.range_end);
    return { deleted: prev.length, prev_kvs: d.prev_kv ? prev : [] };
  }

  private compare(c: Compare): boolean {
    const { kvs } = this.kv.range(c.key, c.range_end);
    const target = c.target ?? 'VERSION';
    if (kvs.length === 0) {
      if (target === 'VALUE') return false; // no way to compare the value of a missing key
      return compareOne(c, target, undefined);
    }
    return kvs.every((kv) => compareOne(c, target, kv));
  }

  private txn(t: TxnRequest): TxnResponse {
    checkTxnShape(t);
    // every compare, nested ones too, is decided against the state before the txn writes (as etcd does)
    const plan = this.decide(t);
    this.kv.begin();
    try {
      return this.run(plan);
    } finally {
      this.kv.commit();
    }
  }

  /** Evaluate compares and validate the ops of the branches that will run, before any write. */
  private decide(t: TxnRequest): TxnPlan {
    const succeeded = (t.compare ?? []).every((c) => this.compare(c));
    const ops = (succeeded ? t.success : t.failure) ?? [];
    const nested: TxnPlan[] = [];
    for (const op of ops) {
      if (op.request_put) this.checkPut(op.request_put);
      else if (op.request_txn) nested.push(this.decide(op.request_txn));
      else if (op.request_range) {
        if (!op.request_range.key || op.request_range.key.length === 0) throw etcdErrors.emptyKey();
        this.kv.checkRev(num(op.request_range.revision));
      } else if (op.request_delete_range) {
        if (!op.request_delete_range.key || op.request_delete_range.key.length === 0) throw etcdErrors.emptyKey();
      } else throw etcdErrors.badRequest('empty request op in txn');
    }
    return { succeeded, ops, nested };
  }

  private run(plan: TxnPlan): TxnResponse {
    let n = 0;
    const responses = plan.ops.map((op): ResponseOp => {
      if (op.request_put) return { response: 'response_put', response_put: this.put(op.request_put) };
      if (op.request_delete_range) return { response: 'response_delete_range', response_delete_range: this.deleteRange(op.request_delete_range) };
      if (op.request_range) return { response: 'response_range', response_range: this.range(op.request_range) };
      return { response: 'response_txn', response_txn: this.run(plan.nested[n++]) };
    });
    return { succeeded: plan.succeeded, responses };
  }

  private leaseGrant(g: LeaseGrantRequest): LeaseGrantResponse {
    const id = leaseId(g.ID);
    if (id === NO_LEASE) throw etcdErrors.badRequest('lease ID must be chosen before proposing');
    const lease = this.lessor.grant(id, num(g.TTL));
    return { ID: lease.id, TTL: lease.ttl, error: '' };
  }

  private leaseRevoke(r: LeaseRevokeRequest): Record<string, never> {
    const keys = this.lessor.remove(leaseId(r.ID));
    if (keys.length > 0) {
      this.writeTxn(() => { for (const k of keys) this.kv.deleteRange(Buffer.from(k, 'latin1'), null); });
    }
    return {};
  }
}

function compareBy(target: string): (a: KeyValue, b: KeyValue) => number {
  switch (target) {
    case 'VERSION': return (a, b) => a.version - b.version;
    case 'CREATE': return (a, b) => a.create_revision - b.create_revision;
    case 'MOD': return (a, b) => a.mod_revision - b.mod_revision;
    case 'VALUE': return (a, b) => Buffer.compare(a.value, b.value);
    default: return (a, b) => Buffer.compare(a.key, b.key);
  }
}

function compareOne(c: Compare, target: string, kv: KeyValue | undefined): boolean {
  let cmp: number;
  switch (target) {
    case 'VALUE': cmp = Buffer.compare(kv?.value ?? Buffer.alloc(0), c.value ?? Buffer.alloc(0)); break;
    case 'VERSION': cmp = Math.sign((kv?.version ?? 0) - num(c.version)); break;
    case 'CREATE': cmp = Math.sign((kv?.create_revision ?? 0) - num(c.create_revision)); break;
    case 'MOD': cmp = Math.sign((kv?.mod_revision ?? 0) - num(c.mod_revision)); break;
    case 'LEASE': {
      const a = BigInt(kv?.lease ?? NO_LEASE), b = BigInt(leaseId(c.lease));
      cmp = a < b ? -1 : a > b ? 1 : 0; break;
    }
    default: throw etcdErrors.badRequest(`unknown compare target ${target}`);
  }
  switch (c.result ?? 'EQUAL') {
    case 'EQUAL': return cmp === 0;
    case 'NOT_EQUAL': return cmp !== 0;
    case 'GREATER': return cmp > 0;
    case 'LESS': return cmp < 0;
    default: throw etcdErrors.badRequest(`unknown compare result ${String(c.result)}`);
  }
}

/** The checks etcd's gRPC layer makes on a txn: op count and no key written twice at one level. */
export function checkTxnShape(t: TxnRequest, maxOps = MAX_TXN_OPS): void {
  const compare = t.compare ?? [], success = t.success ?? [], failure = t.failure ?? [];
  if (compare.length > maxOps || success.length > maxOps || failure.length > maxOps) throw etcdErrors.tooManyOps();
  for (const ops of [success, failure]) {
    const puts = new Set<string>();
    const deletes: Array<[string, string | null | '']> = [];
    for (const op of ops) {
      if (op.request_put) {
        const k = keyString(op.request_put.key ?? Buffer.alloc(0));
        if (puts.has(k)) throw etcdErrors.duplicateKey();
        puts.add(k);
      } else if (op.request_delete_range) {
        deletes.push([keyString(op.request_delete_range.key ?? Buffer.alloc(0)), rangeEndString(op.request_delete_range.range_end)]);
      } else if (op.request_txn) {
        checkTxnShape(op.request_txn, maxOps);
      }
    }
    for (const [dk, de] of deletes) {
      for (const k of puts) {
        if (de === null ? k === dk : k >= dk && (de === '' || k < de)) throw etcdErrors.duplicateKey();
      }
    }
  }
}

export { EtcdError };
