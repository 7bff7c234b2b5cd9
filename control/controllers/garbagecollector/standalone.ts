// Run the garbage collector on its own, next to an apiserver, without a controller-manager: for tests and for
// all-in-one setups. It builds the ControllerContext (informer factory, abort signal) and tears it down on stop().
import type { RestClient } from '../../../client/rest.ts';
import { InformerFactory } from '../../../client/factory.ts';
import type { ControllerContext } from '../controller.ts';
import { GarbageCollector, type GarbageCollectorOptions } from './garbagecollector.ts';

export interface StandaloneGarbageCollector {
  gc: GarbageCollector;
  /** Resolves once discovery is done and every monitor has listed. */
  synced: Promise<void>;
  stop(): Promise<void>;
}

export function startGarbageCollector(client: RestClient, opts: GarbageCollectorOptions & {
  workers?: number; log?: ControllerContext['log'];
} = {}): StandaloneGarbageCollector {
  const abort = new AbortController();
  const factory = new InformerFactory(client, { onError: () => {} });
  const ctx: ControllerContext = { client, factory, signal: abort.signal, log: opts.log ?? (() => {}) };
  const gc = new GarbageCollector(ctx, opts);
  factory.start();
  const running = gc.run(opts.workers ?? 2).catch((err) => ctx.log('garbage collector stopped on an error', { err: String(err) }));
  const synced = Promise.race([gc.whenSynced, running]).then(() => {
    if (!gc.hasSynced()) throw new Error('garbage collector stopped before it synced');
  });
  return {
    gc, synced,
    async stop() {
      abort.abort(new Error('garbage collector stopped'));
      await running;
      await factory.stop();
    },
  };
}
