// Services and EndpointSlices from the apiserver, through the shared informers in client/, turned into the
// proxier's previous/current events. Services that another proxy owns (service.kubernetes.io/service-proxy-name)
// are left out, as upstream does.
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { Informer, RestClient, resources } from '../../client/index.ts';
import type { ProxyEventHandlers, ProxySource } from './proxier.ts';

const proxyNameLabel = 'service.kubernetes.io/service-proxy-name';

const ours = (svc: V1Service | null) => svc !== null && svc.metadata?.labels?.[proxyNameLabel] === undefined;

export class ApiSource implements ProxySource {
  private readonly services: Informer<V1Service>;
  private readonly slices: Informer<V1EndpointSlice>;

  constructor(client: RestClient, onError?: (err: unknown, what: string) => void) {
    const report = (what: string) => (err: unknown) => onError?.(err, what);
    this.services = new Informer<V1Service>(client, resources.services, { onError: report('services') });
    this.slices = new Informer<V1EndpointSlice>(client, resources.endpointslices, { onError: report('endpointslices') });
  }

  async start(h: ProxyEventHandlers): Promise<void> {
    // An update that moves a service in or out of our ownership is an add or a delete for us.
    const service = (prev: V1Service | null, cur: V1Service | null) => {
      const p = ours(prev) ? prev : null;
      const c = ours(cur) ? cur : null;
      if (p || c) h.service(p, c);
    };
    this.services.addEventHandler({
      onAdd: (s) => service(null, s),
      onUpdate: (o, n) => { if (o !== n) service(o, n); },
      onDelete: (s) => service(s, null),
    });
    this.slices.addEventHandler({
      onAdd: (s) => h.endpointSlice(null, s),
      onUpdate: (o, n) => { if (o !== n) h.endpointSlice(o, n); },
      onDelete: (s) => h.endpointSlice(s, null),
    });
    this.services.start();
    this.slices.start();
    await Promise.all([this.services.waitForSync(), this.slices.waitForSync()]);
    h.synced();
  }

  async stop(): Promise<void> {
    await Promise.all([this.services.stop(), this.slices.stop()]);
  }
}
