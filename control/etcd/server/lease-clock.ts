// Lease deadlines, kept by the leader only (deadlines are wall-clock and not replicated). When a deadline
// passes, the leader proposes a revoke through the log; keep-alives push the deadline out by the TTL.
// A new leader gives every lease a full TTL, as etcd does, so a leader change never expires leases early.

const CHECK_INTERVAL_MS = 250;

export class LeaseClock {
  private readonly deadlines = new Map<string, { ttl: number; deadline: number; expiring: boolean }>();
  private leader = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly expire: (id: string) => void;

  constructor(expire: (id: string) => void) { this.expire = expire; }

  start(): void {
    this.timer = setInterval(() => this.check(), CHECK_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void { clearInterval(this.timer); }

  granted(id: string, ttl: number): void {
    this.deadlines.set(id, { ttl, deadline: Date.now() + ttl * 1000, expiring: false });
  }

  revoked(id: string): void { this.deadlines.delete(id); }

  promote(leases: Iterable<{ id: string; ttl: number }>): void {
    this.leader = true;
    for (const l of leases) this.granted(l.id, l.ttl);
  }

  demote(): void { this.leader = false; }

  /** After installing a snapshot: exactly the snapshot's leases, each with a full TTL. */
  reset(leases: Iterable<{ id: string; ttl: number }>, leader: boolean): void {
    this.deadlines.clear();
    for (const l of leases) this.granted(l.id, l.ttl);
    this.leader = leader;
  }

  get isLeader(): boolean { return this.leader; }

  /** Renew a lease; returns its TTL, or 0 when it does not exist (as etcd answers a keep-alive). */
  renew(id: string): number {
    const d = this.deadlines.get(id);
    if (!d) return 0;
    d.deadline = Date.now() + d.ttl * 1000;
    d.expiring = false;
    return d.ttl;
  }

  /** Seconds left, rounded up; -1 when unknown. */
  remaining(id: string): number {
    const d = this.deadlines.get(id);
    if (!d) return -1;
    return Math.max(0, Math.ceil((d.deadline - Date.now()) / 1000));
  }

  retry(id: string): void {
    const d = this.deadlines.get(id);
    if (d) d.expiring = false;
  }

  private check(): void {
    if (!this.leader) return;
    const now = Date.now();
    for (const [id, d] of this.deadlines) {
      if (!d.expiring && d.deadline <= now) {
        d.expiring = true;
        this.expire(id);
      }
    }
  }
}
