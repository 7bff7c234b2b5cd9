// ApiSource: Services and EndpointSlices from client/ informers (against the client's in-test fake API
// server) become previous/current events; services owned by another proxy are left out.
import t from 'tap';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { FakeApiServer } from '../client/fixtures/fake-apiserver.ts';
import { RestClient } from '../../../client/index.ts';
import { ApiSource } from '../../../agent/proxy/apisource.ts';
import { makeService, makeSlice } from '../../../agent/proxy/fixtures.ts';

t.test('events flow from list and watch; other proxies\' services are ignored', async (t) => {
  const api = new FakeApiServer();
  const server = await api.start();
  t.teardown(() => api.close());
  const client = new RestClient({ server, qps: 0 });
  t.teardown(() => client.close());
  api.put('v1/services', makeService({ name: 'web', clusterIP: '10.96.0.10', ports: [{ port: 80 }] }) as never);
  api.put('discovery.k8s.io/v1/endpointslices', makeSlice({ service: 'web', ports: [{ port: 80 }], endpoints: [{ ip: '10.244.1.2' }] }) as never);

  const seen: string[] = [];
  let synced = false;
  const source = new ApiSource(client);
  t.teardown(() => source.stop());
  await source.start({
    service: (p: V1Service | null, c: V1Service | null) => seen.push(`svc ${p?.metadata?.name ?? '-'} -> ${c?.metadata?.name ?? '-'}`),
    endpointSlice: (p: V1EndpointSlice | null, c: V1EndpointSlice | null) => seen.push(`slice ${p ? 'old' : '-'} -> ${c ? 'new' : '-'}`),
    synced: () => { synced = true; },
  });
  t.ok(synced, 'synced after both initial lists');
  t.same(seen.sort(), ['slice - -> new', 'svc - -> web']);

  seen.length = 0;
  const other = makeService({ name: 'other', clusterIP: '10.96.0.11', ports: [{ port: 80 }] });
  other.metadata!.labels = { 'service.kubernetes.io/service-proxy-name': 'someone-else' };
  api.put('v1/services', other as never);
  const web2 = makeService({ name: 'web', clusterIP: '10.96.0.10', ports: [{ port: 81 }] });
  web2.metadata!.labels = { 'service.kubernetes.io/service-proxy-name': 'someone-else' };
  api.put('v1/services', web2 as never);
  api.remove('v1/services', 'default', 'other');
  for (let i = 0; i < 200 && seen.length < 1; i++) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 50));
  t.same(seen, ['svc web -> -'], 'a service handed to another proxy is a delete; the other proxy\'s service never shows');
});
