// kube-controller-manager as a library: one API client, one shared InformerFactory, the selected controllers
// built from it, informers started and synced, then each controller run with its workers. With leader
// election (the upstream default) all of that happens only while this process holds the Lease
// kube-system/kube-controller-manager, and stops when leadership is lost.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { InformerFactory } from '../../client/factory.ts';
import { loadConfig } from '../../client/kubeconfig.ts';
import { LeaderElector } from '../../client/leaderelection.ts';
import { RestClient } from '../../client/rest.ts';
import type { Controller, ControllerConstructor, ControllerContext } from '../controllers/controller.ts';
import { controllers as allControllers, selectControllers } from '../controllers/index.ts';

export const LEASE_NAMESPACE = 'kube-system';
export const LEASE_NAME = 'kube-controller-manager';
/** Upstream's --concurrent-*-syncs defaults (deployment 5, replicaset 5); others default to this too. */
export const DEFAULT_WORKERS = 5;

export interface ControllerManagerOptions {
  /** An API client; or give kubeconfig / master and one is made (and closed on stop). */
  client?: RestClient;
  kubeconfig?: string;
  master?: string;
  /** --controllers: "*" (default), names, "-name". */
  controllers?: string[];
  /** Hold the Lease before running controllers (default true, as upstream). */
  leaderElect?: boolean;
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Workers per controller name (--concurrent-deployment-syncs, --concurrent-replicaset-syncs). */
  workers?: Record<string, number>;
  signal?: AbortSignal;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** Told when leadership is lost while not stopping (the process should exit, as upstream does). */
  onLeadershipLost?: () => void;
  /** The controllers to pick from (tests); default control/controllers/index.ts. */
  registry?: Record<string, ControllerConstructor>;
}

export interface RunningControllerManager {
  /** The controllers this process runs (after --controllers). */
  readonly controllers: string[];
  /** Resolves once the informers have synced and the controllers run (for a leader: after winning). */
  readonly ready: Promise<void>;
  isLeader(): boolean;
  stop(): Promise<void>;
}

export function startControllerManager(opts: ControllerManagerOptions = {}): RunningControllerManager {
  const registry = opts.registry ?? allControllers;
  const names = selectControllers(opts.controllers ?? ['*'], registry);
  const ownClient = !opts.client;
  const client = opts.client ?? new RestClient({ ...loadConfig({ kubeconfig: opts.kubeconfig, master: opts.master }), userAgent: 'kube-controller-manager/kts' });
  const log = opts.log ?? ((msg, fields) => console.error(JSON.stringify({ component: 'kube-controller-manager', msg, ...fields })));
  const stopping = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, stopping.signal]) : stopping.signal;
  let leading = false;
  let markReady!: () => void;
  let failReady!: (err: unknown) => void;
  const ready = new Promise<void>((resolve, reject) => { markReady = resolve; failReady = reject; });
  ready.catch(() => {});

  /** Build, sync and run the controllers until `runSignal` aborts. */
  const runControllers = async (runSignal: AbortSignal): Promise<void> => {
    const factory = new InformerFactory(client, { onError: (err, phase) => log('informer error', { phase, err: err instanceof Error ? err.message : String(err) }) });
    const ctx: ControllerContext = { client, factory, signal: runSignal, log };
    const built: Controller[] = [];
    for (const name of names) {
      try {
        built.push(registry[name]!(ctx));
      } catch (err) {
        log('controller failed to start', { controller: name, err: err instanceof Error ? err.message : String(err) });
      }
    }
    factory.start();
    try {
      await factory.waitForSync(runSignal);
    } catch {
      await factory.stop();
      return;
    }
    log('controllers starting', { controllers: built.map((c) => c.name) });
    const running = built.map((c) => c.run(opts.workers?.[c.name] ?? DEFAULT_WORKERS).catch((err: unknown) => {
      log('controller stopped with an error', { controller: c.name, err: err instanceof Error ? err.message : String(err) });
    }));
    markReady();
    await Promise.all(running);
    await factory.stop();
  };

  let done: Promise<void>;
  if (opts.leaderElect === false) {
    leading = true;
    done = runControllers(signal);
  } else {
    const identity = opts.identity ?? `${hostname()}_${randomBytes(8).toString('hex')}`;
    let runs: Promise<void> = Promise.resolve();
    const elector = new LeaderElector({
      client, namespace: LEASE_NAMESPACE, name: LEASE_NAME, identity, releaseOnCancel: true,
      leaseDurationMs: opts.leaseDurationMs, renewDeadlineMs: opts.renewDeadlineMs, retryPeriodMs: opts.retryPeriodMs,
      onStartedLeading: (leaderSignal) => {
        leading = true;
        log('became leader', { identity });
        runs = runControllers(leaderSignal);
      },
      onStoppedLeading: () => {
        leading = false;
        if (!signal.aborted) {
          log('leader election lost', { identity });
          opts.onLeadershipLost?.();
        }
      },
      onNewLeader: (who) => { if (who !== identity) log('new leader elected', { leader: who }); },
      onError: (err) => log('leader election error', { err: err instanceof Error ? err.message : String(err) }),
    });
    done = elector.run(signal).then(() => runs);
  }
  done = done.finally(() => failReady(new Error('controller-manager stopped before it was ready')));

  return {
    controllers: names,
    ready,
    isLeader: () => leading,
    async stop() {
      stopping.abort(new Error('controller-manager stopping'));
      await done;
      if (ownClient) client.close();
    },
  };
}
