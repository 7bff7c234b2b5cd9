// One informer per (resource, namespace, selectors), shared by every controller in a process, so that the
// controller-manager watches pods once however many controllers look at pods (client-go's SharedInformerFactory).
import type { KubernetesObject } from '@kubernetes/client-node';
import { Informer } from './informer.ts';
import type { InformerOptions } from './informer.ts';
import type { RestClient, ResourceRef } from './rest.ts';
import type { IndexFunc } from './store.ts';

export interface FactoryOptions {
  resyncMs?: number;
  onError?: InformerOptions<KubernetesObject>['onError'];
}

export interface SharedInformerOptions<T> {
  labelSelector?: string;
  fieldSelector?: string;
  /** Added to the shared store; names must not clash with another user's indexes. */
  indexers?: Record<string, IndexFunc<T>>;
}

export class InformerFactory {
  private readonly client: RestClient;
  private readonly opts: FactoryOptions;
  private readonly informers = new Map<string, Informer<KubernetesObject>>();
  private started = false;

  constructor(client: RestClient, opts: FactoryOptions = {}) {
    this.client = client;
    this.opts = opts;
  }

  /** The shared informer for this collection and selectors; created on first use, started if the factory is. */
  informerFor<T extends KubernetesObject>(ref: ResourceRef, opts: SharedInformerOptions<T> = {}): Informer<T> {
    const key = [ref.group ?? '', ref.version, ref.resource, ref.namespace ?? '', opts.labelSelector ?? '', opts.fieldSelector ?? ''].join('|');
    let inf = this.informers.get(key) as Informer<T> | undefined;
    if (!inf) {
      inf = new Informer<T>(this.client, { group: ref.group, version: ref.version, resource: ref.resource, namespace: ref.namespace }, {
        labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector, resyncMs: this.opts.resyncMs, onError: this.opts.onError,
      });
      this.informers.set(key, inf as unknown as Informer<KubernetesObject>);
      if (this.started) inf.start();
    }
    if (opts.indexers) {
      // Re-registering the same index function (a second controller asking for it) is fine.
      const fresh = Object.fromEntries(Object.entries(opts.indexers).filter(([name]) => !inf.store.hasIndex(name)));
      inf.store.addIndexers(fresh);
    }
    return inf;
  }

  /** Start every informer made so far, and any made later. */
  start(): void {
    this.started = true;
    for (const inf of this.informers.values()) inf.start();
  }

  /** Wait until every informer made so far has synced. */
  async waitForSync(signal?: AbortSignal): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.waitForSync(signal)));
  }

  async stop(): Promise<void> {
    this.started = false;
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
  }
}
