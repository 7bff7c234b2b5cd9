// Replicated lease state: which leases exist, their granted TTL and the keys attached to them.
// Expiry deadlines are not replicated: only the leader keeps them (server/lease-clock.ts) and, when one
// passes, it proposes a revoke so that the attached keys are deleted through the log on every member.
import { etcdErrors } from './errors.ts';

export const MAX_LEASE_TTL = 9_000_000_000;

export interface Lease { id: string; ttl: number; keys: Set<string> }

export class Lessor {
  readonly leases = new Map<string, Lease>();
  /** Granted TTLs below this are raised to it (etcd: 1.5 x election timeout, rounded up to seconds). */
  minTTL: number;
  constructor(minTTL = 2) { this.minTTL = minTTL; }

  grant(id: string, ttl: number): Lease {
    if (this.leases.has(id)) throw etcdErrors.leaseExists();
    if (ttl > MAX_LEASE_TTL) throw etcdErrors.leaseTTLTooLarge();
    const lease: Lease = { id, ttl: Math.max(ttl, this.minTTL), keys: new Set() };
    this.leases.set(id, lease);
    return lease;
  }

  get(id: string): Lease | undefined { return this.leases.get(id); }

  /** Forget the lease; the caller deletes the keys it returns. */
  remove(id: string): string[] {
    const lease = this.leases.get(id);
    if (!lease) throw etcdErrors.leaseNotFound();
    this.leases.delete(id);
    return [...lease.keys].sort();
  }

  attach(id: string, key: string): void { this.leases.get(id)?.keys.add(key); }
  detach(id: string, key: string): void { this.leases.get(id)?.keys.delete(key); }
}
