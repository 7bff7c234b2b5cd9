// One worker per container and probe kind: waits initialDelaySeconds, probes every periodSeconds, and
// flips its result only after successThreshold successes or failureThreshold failures in a row.
import type { V1Probe } from '@kubernetes/client-node';
import type { ProbeResult } from './checkers.ts';

export type ProbeKind = 'liveness' | 'readiness' | 'startup';

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}
export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface ProbeWorkerOptions {
  kind: ProbeKind;
  probe: V1Probe;
  /** When the container started (ms); initialDelaySeconds counts from here. */
  startedAtMs: number;
  check: () => Promise<ProbeResult>;
  /** Startup gates liveness and readiness: they do not run until this returns true. */
  gate?: () => boolean;
  onChange: (ok: boolean, message: string) => void;
  clock?: Clock;
}

export function probeDefaults(kind: ProbeKind, probe: V1Probe) {
  return {
    initialDelayMs: (probe.initialDelaySeconds ?? 0) * 1000,
    periodMs: Math.max(1, probe.periodSeconds ?? 10) * 1000,
    successThreshold: kind === 'readiness' ? Math.max(1, probe.successThreshold ?? 1) : 1,
    failureThreshold: Math.max(1, probe.failureThreshold ?? 3),
  };
}

export class ProbeWorker {
  readonly kind: ProbeKind;
  /** Readiness starts false, liveness true (innocent until proven guilty), startup false. */
  result: boolean;
  lastMessage = '';
  private successes = 0;
  private failures = 0;
  private timer: unknown;
  private stopped = false;
  private readonly o: ProbeWorkerOptions;
  private readonly clock: Clock;
  private readonly p: ReturnType<typeof probeDefaults>;

  constructor(o: ProbeWorkerOptions) {
    this.o = o;
    this.kind = o.kind;
    this.clock = o.clock ?? realClock;
    this.p = probeDefaults(o.kind, o.probe);
    this.result = o.kind === 'liveness';
  }

  start(): void {
    const firstAt = this.o.startedAtMs + this.p.initialDelayMs;
    this.schedule(Math.max(0, firstAt - this.clock.now()));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => void this.tick(), ms);
  }

  /** One probe round; exported for tests that drive time by hand. */
  async tick(): Promise<void> {
    if (this.stopped) return;
    if (this.o.gate && !this.o.gate()) {
      this.schedule(this.p.periodMs);
      return;
    }
    const res = await this.o.check();
    if (this.stopped) return;
    this.lastMessage = res.message;
    if (res.ok) {
      this.failures = 0;
      this.successes++;
      if (!this.result && this.successes >= this.p.successThreshold) this.set(true, '');
    } else {
      this.successes = 0;
      this.failures++;
      if (this.result && this.failures >= this.p.failureThreshold) this.set(false, res.message);
      else if (!this.result && this.kind === 'startup' && this.failures >= this.p.failureThreshold) this.set(false, res.message, true);
    }
    // A started container needs no more startup probing.
    if (this.kind === 'startup' && this.result) return;
    this.schedule(this.p.periodMs);
  }

  private set(ok: boolean, message: string, force = false): void {
    const changed = this.result !== ok || force;
    this.result = ok;
    if (!ok) this.failures = 0; // after acting on a failure (e.g. a restart) count afresh
    if (changed) this.o.onChange(ok, message);
  }
}
