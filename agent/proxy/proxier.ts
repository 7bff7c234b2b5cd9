// The mode-independent proxier: informer callbacks record changes in the trackers and poke the runner; a
// sync folds the changes into the model and hands the whole state to the backend (iptables or ipvs), with
// the set of changed service ports so the backend can write only those, and a full sync every syncPeriod
// and after any failure.
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { EndpointsChangeTracker } from './endpointschangetracker.ts';
import { ServiceChangeTracker } from './servicechangetracker.ts';
import type { Warn } from './servicechangetracker.ts';
import { BoundedFrequencyRunner } from './runner.ts';
import { ProxyMetrics } from './metrics.ts';
import type { StaleEndpoints } from './conntrack.ts';
import type { NodeInfo, ProxyState, ServicePortInfo } from './types.ts';

export interface SyncRequest {
  state: ProxyState;
  /** Service ports changed since the last successful sync; undefined asks for a full sync. */
  changed: Set<string> | undefined;
}

export interface ProxyBackend {
  readonly mode: 'iptables' | 'ipvs';
  /** Program the kernel. Throws on failure; the rules in place must then stay as they were. */
  sync(req: SyncRequest): Promise<void>;
  /** After a successful sync: forget conntrack entries of UDP endpoints that went away. */
  flushStale?(stale: StaleEndpoints[]): Promise<void>;
}

/** Where Services and EndpointSlices come from (the informers), as events. */
export interface ProxyEventHandlers {
  service(previous: V1Service | null, current: V1Service | null): void;
  endpointSlice(previous: V1EndpointSlice | null, current: V1EndpointSlice | null): void;
  /** Both initial lists are in: syncing may start. */
  synced(): void;
}

export interface ProxySource {
  start(handlers: ProxyEventHandlers): Promise<void>;
  stop(): Promise<void>;
}

export interface ProxierOptions {
  nodeName: string;
  node: NodeInfo;
  backend: ProxyBackend;
  minSyncPeriodMs?: number;
  syncPeriodMs?: number;
  metrics?: ProxyMetrics;
  log?: { info(o: object, msg: string): void; warn(o: object, msg: string): void; error(o: object, msg: string): void };
  now?: () => number;
  /** Told when a Service (or one of its ports or addresses) is skipped as invalid, e.g. to post an Event. */
  onInvalidService?: Warn;
}

const quietLog = { info() {}, warn() {}, error() {} };

export class Proxier implements ProxyEventHandlers {
  readonly state: ProxyState;
  readonly metrics: ProxyMetrics;
  readonly runner: BoundedFrequencyRunner;
  private readonly services: ServiceChangeTracker;
  private readonly endpoints: EndpointsChangeTracker;
  private readonly opts: Required<Omit<ProxierOptions, 'metrics' | 'onInvalidService'>>;
  private readonly pendingChanged = new Set<string>();
  private pendingTriggers: number[] = [];
  private pendingStale: StaleEndpoints[] = [];
  private needFull = true;
  private lastFull = -Infinity;
  private isSynced = false;
  /** Completed syncs, successful or not (for tests and /healthz). */
  syncCount = 0;
  lastSuccess = 0;
  lastError: Error | null = null;

  constructor(opts: ProxierOptions) {
    this.opts = { minSyncPeriodMs: 1000, syncPeriodMs: 30_000, log: quietLog, now: Date.now, ...opts };
    this.metrics = opts.metrics ?? new ProxyMetrics();
    const warn: Warn = (svc, message) => {
      this.opts.log.warn({ service: `${svc.metadata?.namespace}/${svc.metadata?.name}` }, message);
      opts.onInvalidService?.(svc, message);
    };
    this.services = new ServiceChangeTracker(warn);
    this.endpoints = new EndpointsChangeTracker(opts.nodeName, this.opts.now);
    this.state = { services: new Map(), endpoints: new Map(), node: opts.node };
    this.runner = new BoundedFrequencyRunner(() => this.sync(), {
      minIntervalMs: this.opts.minSyncPeriodMs, maxIntervalMs: this.opts.syncPeriodMs, now: this.opts.now,
    });
  }

  service(previous: V1Service | null, current: V1Service | null): void {
    if (this.services.update(previous, current) && this.isSynced) this.runner.run();
  }

  endpointSlice(previous: V1EndpointSlice | null, current: V1EndpointSlice | null): void {
    if (this.endpoints.update(previous, current) && this.isSynced) this.runner.run();
  }

  synced(): void {
    if (this.isSynced) return;
    this.isSynced = true;
    this.runner.start();
  }

  stop(): void {
    this.runner.stop();
  }

  /** One sync: fold changes into the model, let the backend apply it. Throws when the backend fails. */
  async sync(): Promise<void> {
    const started = this.opts.now();
    const svc = this.services.apply(this.state.services);
    const removedByKey = new Map<string, ServicePortInfo>(svc.removed.map((s) => [s.key, s]));
    const eps = this.endpoints.apply(this.state.endpoints);
    for (const k of svc.changed) this.pendingChanged.add(k);
    for (const k of eps.changed) this.pendingChanged.add(k);
    this.pendingTriggers.push(...eps.triggerTimes);
    for (const [key, lost] of eps.gone) {
      const service = this.state.services.get(key) ?? removedByKey.get(key);
      if (service?.protocol === 'UDP') this.pendingStale.push({ service, endpoints: lost });
    }
    for (const key of eps.nowServing) {
      const service = this.state.services.get(key);
      if (service?.protocol === 'UDP') this.pendingStale.push({ service, endpoints: [], wholeService: true });
    }
    const full = this.needFull || started - this.lastFull >= this.opts.syncPeriodMs;
    try {
      await this.opts.backend.sync({ state: this.state, changed: full ? undefined : new Set(this.pendingChanged) });
    } catch (err) {
      this.needFull = true;
      this.syncCount++;
      this.lastError = err instanceof Error ? err : new Error(String(err));
      this.metrics.restoreFailures.inc();
      this.opts.log.error({ err: this.lastError.message, full }, 'sync failed; rules in place kept, full resync scheduled with backoff');
      throw this.lastError;
    }
    const done = this.opts.now();
    const seconds = (done - started) / 1000;
    this.metrics.syncDuration.observe(seconds);
    (full ? this.metrics.fullSyncDuration : this.metrics.partialSyncDuration).observe(seconds);
    this.metrics.lastSync.set(done / 1000);
    this.metrics.servicePorts.set(this.state.services.size);
    for (const t of this.pendingTriggers) this.metrics.networkProgramming.observe(Math.max(0, done - t) / 1000);
    this.pendingTriggers = [];
    this.pendingChanged.clear();
    this.needFull = false;
    if (full) this.lastFull = started;
    this.syncCount++;
    this.lastSuccess = done;
    this.lastError = null;
    const stale = this.pendingStale;
    this.pendingStale = [];
    if (stale.length > 0 && this.opts.backend.flushStale) {
      await this.opts.backend.flushStale(stale).catch((err: unknown) => this.opts.log.warn({ err: String(err) }, 'conntrack flush failed'));
    }
  }
}
