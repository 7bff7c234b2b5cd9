// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it:
// - acquire: create the Lease, or take it over when its holder has not renewed it for leaseDuration as
//   measured on OUR clock since we last saw the record change (so clock skew between hosts does not matter);
// - renew every retryPeriod; if no renewal succeeds within renewDeadline, leadership is lost;
// - every write is an optimistic update on the Lease's resourceVersion, so two candidates can never both win;
// - on cancel with releaseOnCancel, clear holderIdentity so a successor need not wait out the lease.
import type { V1Lease, V1LeaseSpec } from '@kubernetes/client-node';
import { ApiError } from '../api/errors.ts';
import type { RestClient, ResourceRef } from './rest.ts';
import { sleep } from './ratelimit.ts';

export interface LeaderElectionConfig {
  client: RestClient;
  /** The Lease to hold, e.g. kube-system/kube-scheduler. */
  namespace: string;
  name: string;
  /** Unique per candidate: usually hostname + "_" + a random suffix. */
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  releaseOnCancel?: boolean;
  /** Called once leadership is acquired; the signal aborts when it is lost or the elector is cancelled. */
  onStartedLeading(signal: AbortSignal): void | Promise<void>;
  /** Called when leadership ends (lost or cancelled), only if it was ever acquired. */
  onStoppedLeading?(): void;
  /** Called whenever the observed holder changes (including to us). */
  onNewLeader?(identity: string): void;
  onError?(err: unknown): void;
}

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(d: Date = new Date()): string {
  return d.toISOString().replace(/Z$/, '000Z');
}

export class LeaderElector {
  private readonly cfg: Required<Pick<LeaderElectionConfig, 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs'>> & LeaderElectionConfig;
  private readonly ref: ResourceRef;
  private observed?: V1LeaseSpec;
  private observedRaw = '';
  private observedAt = 0;
  private leading = false;
  private reportedLeader = '';

  constructor(cfg: LeaderElectionConfig) {
    const leaseDurationMs = cfg.leaseDurationMs ?? 15_000;
    const renewDeadlineMs = cfg.renewDeadlineMs ?? 10_000;
    const retryPeriodMs = cfg.retryPeriodMs ?? 2_000;
    if (!cfg.identity) throw new Error('LeaderElector: identity is required');
    if (!(leaseDurationMs > renewDeadlineMs)) throw new Error('LeaderElector: leaseDuration must be greater than renewDeadline');
    if (!(renewDeadlineMs > retryPeriodMs * 1.2)) throw new Error('LeaderElector: renewDeadline must be greater than 1.2 * retryPeriod');
    this.cfg = { ...cfg, leaseDurationMs, renewDeadlineMs, retryPeriodMs };
    this.ref = { group: 'coordination.k8s.io', version: 'v1', resource: 'leases', namespace: cfg.namespace, name: cfg.name };
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** The holder we last observed ("" if none). */
  getLeader(): string {
    return this.observed?.holderIdentity ?? '';
  }

  /** Campaign until leading, lead until lost or `signal` aborts, then return. Never throws for API errors. */
  async run(signal: AbortSignal): Promise<void> {
    const { retryPeriodMs, renewDeadlineMs } = this.cfg;
    while (!signal.aborted) {
      if (await this.attempt(signal, renewDeadlineMs)) break;
      await sleep(retryPeriodMs * (1 + 0.2 * Math.random()), signal).catch(() => {});
    }
    if (signal.aborted) return;

    this.leading = true;
    const leadership = new AbortController();
    const onCancel = () => leadership.abort(signal.reason);
    signal.addEventListener('abort', onCancel, { once: true });
    Promise.resolve()
      .then(() => this.cfg.onStartedLeading(leadership.signal))
      .catch((err) => this.report(err));

    while (!signal.aborted) {
      try {
        await sleep(retryPeriodMs, signal);
      } catch {
        break;
      }
      if (!(await this.renewWithinDeadline(signal))) break;
    }

    this.leading = false;
    signal.removeEventListener('abort', onCancel);
    leadership.abort(new Error('leadership lost'));
    if (signal.aborted && this.cfg.releaseOnCancel) await this.release();
    try {
      this.cfg.onStoppedLeading?.();
    } catch (err) {
      this.report(err);
    }
  }

  /** Retry renewing every retryPeriod until one succeeds or renewDeadline has passed. */
  private async renewWithinDeadline(signal: AbortSignal): Promise<boolean> {
    const deadline = performance.now() + this.cfg.renewDeadlineMs;
    for (;;) {
      const left = deadline - performance.now();
      if (left <= 0 || signal.aborted) return false;
      if (await this.attempt(signal, left)) return true;
      const wait = Math.min(this.cfg.retryPeriodMs, deadline - performance.now());
      if (wait <= 0) return false;
      try {
        await sleep(wait, signal);
      } catch {
        return false;
      }
    }
  }

  private async attempt(signal: AbortSignal, timeoutMs: number): Promise<boolean> {
    try {
      return await this.tryAcquireOrRenew(AbortSignal.any([signal, AbortSignal.timeout(Math.max(1, Math.ceil(timeoutMs)))]));
    } catch (err) {
      if (!signal.aborted && !(err instanceof ApiError && err.reason === 'Conflict')) this.report(err);
      return false;
    }
  }

  private async tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const now = new Date();
    const mine: V1LeaseSpec = {
      holderIdentity: this.cfg.identity,
      leaseDurationSeconds: Math.ceil(this.cfg.leaseDurationMs / 1000),
      acquireTime: microTime(now) as unknown as Date,
      renewTime: microTime(now) as unknown as Date,
      leaseTransitions: 0,
    };
    let lease: V1Lease;
    try {
      lease = await this.cfg.client.get<V1Lease>(this.ref, { signal });
    } catch (err) {
      if (!(err instanceof ApiError && err.reason === 'NotFound')) throw err;
      const created = await this.cfg.client.create<V1Lease>(this.ref, {
        apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
        metadata: { name: this.cfg.name, namespace: this.cfg.namespace }, spec: mine,
      }, { signal });
      this.observe(created.spec ?? mine);
      return true;
    }

    const spec = lease.spec ?? {};
    this.observe(spec);
    const holder = spec.holderIdentity ?? '';
    const durationMs = (spec.leaseDurationSeconds ?? 0) * 1000;
    if (holder && holder !== this.cfg.identity && this.observedAt + durationMs > performance.now()) return false;

    if (holder === this.cfg.identity) {
      mine.acquireTime = spec.acquireTime;
      mine.leaseTransitions = spec.leaseTransitions ?? 0;
    } else {
      mine.leaseTransitions = (spec.leaseTransitions ?? 0) + 1;
    }
    // The resourceVersion in metadata makes this a compare-and-swap: a 409 means someone else wrote first.
    const updated = await this.cfg.client.update<V1Lease>(this.ref, { ...lease, spec: mine }, { signal });
    this.observe(updated.spec ?? mine);
    return true;
  }

  private observe(spec: V1LeaseSpec): void {
    const raw = JSON.stringify(spec);
    if (raw !== this.observedRaw) {
      this.observedRaw = raw;
      this.observed = spec;
      this.observedAt = performance.now();
    }
    const holder = spec.holderIdentity ?? '';
    if (holder && holder !== this.reportedLeader) {
      this.reportedLeader = holder;
      try {
        this.cfg.onNewLeader?.(holder);
      } catch (err) {
        this.report(err);
      }
    }
  }

  /** Give the lease up (holder cleared, duration 1 s) so the next candidate takes over at once. */
  private async release(): Promise<void> {
    try {
      const lease = await this.cfg.client.get<V1Lease>(this.ref, { signal: AbortSignal.timeout(Math.ceil(this.cfg.renewDeadlineMs)) });
      if (lease.spec?.holderIdentity !== this.cfg.identity) return;
      const now = microTime() as unknown as Date;
      await this.cfg.client.update<V1Lease>(this.ref, {
        ...lease,
        spec: { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: lease.spec.leaseTransitions ?? 0 },
      }, { signal: AbortSignal.timeout(Math.ceil(this.cfg.renewDeadlineMs)) });
    } catch (err) {
      this.report(err);
    }
  }

  private report(err: unknown): void {
    if (this.cfg.onError) this.cfg.onError(err);
    else console.error(`leaderelection ${this.cfg.namespace}/${this.cfg.name}: ${err instanceof Error ? err.message : String(err)}`);
  }
}
