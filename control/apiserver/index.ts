// Assembles an apiserver: etcd store, registry with watch caches, allocators, bootstrap objects, HTTPS server.
// Used by main.ts (kts apiserver), by `kts server` and by tests.
import type { AddressInfo } from 'node:net';
import { unionAuthenticator, x509Authenticator, type Authenticator } from './auth/authenticator.ts';
import { allowAll, type Authorizer } from './auth/authorizer.ts';
import { serviceAccountTokens, type ServiceAccountTokenOptions } from './auth/serviceaccount-tokens.ts';
import { openIdDocuments, type OpenIdDocuments } from './auth/openid.ts';
import { bootstrap } from './bootstrap.ts';
import { createServer } from './http/server.ts';
import type { KubeletClientConfig } from './http/kubelet-proxy.ts';
import { ServiceAllocators, parseCidr, parsePortRange } from './registry/allocators.ts';
import { allStrategies } from './registry/index.ts';
import { Registry } from './registry/rest.ts';
import { EtcdStore } from './storage/etcd-store.ts';

export interface ApiServerOptions {
  etcdServers: string[];
  bindAddress?: string;
  /** 0 picks a free port. */
  securePort?: number;
  /** TLS material (PEM); without it the server speaks plain HTTP (kubectl then sends no credentials). */
  tls?: { cert: string | Buffer; key: string | Buffer; clientCA?: string | Buffer };
  serviceClusterIPRange?: string;
  serviceNodePortRange?: string;
  advertiseAddress?: string;
  authenticators?: Authenticator[];
  anonymousAuth?: boolean;
  authorizer?: Authorizer;
  /** Service-account token issuance and authentication (keys, issuers, audiences); an in-memory key when omitted. */
  serviceAccount?: ServiceAccountTokenOptions;
  bookmarkIntervalMs?: number;
  /** How to reach kubelets for pods/log, exec, attach and portforward. */
  kubeletClient?: KubeletClientConfig;
  /** Compact etcd history this often (upstream default 5 minutes); 0 turns it off. */
  etcdCompactionIntervalMs?: number;
  /** Events kept per resource for watch resumption (default 5000). */
  watchCacheSize?: number;
  log?: (msg: string, extra?: Record<string, unknown>) => void;
}

export interface RunningApiServer {
  url: string;
  port: number;
  registry: Registry;
  /** Ends every open watch stream (clients reconnect); for tests and shutdown. */
  closeWatches(): void;
  close(): Promise<void>;
}

export async function startApiServer(o: ApiServerOptions): Promise<RunningApiServer> {
  const log = o.log ?? (() => {});
  const cidr = parseCidr(o.serviceClusterIPRange ?? '10.96.0.0/12');
  const ports = parsePortRange(o.serviceNodePortRange ?? '30000-32767');
  const store = new EtcdStore(o.etcdServers);
  const registry = new Registry(store, allStrategies, o.watchCacheSize);
  const services = registry.mustGet('', 'services');
  const allocators = new ServiceAllocators(cidr, ports, () => services.cache.list().map((i) => i.obj));
  registry.allocators = allocators;
  let ready = false;
  await registry.start((err) => log('etcd watch error', { err: err.message }));
  const tokens = serviceAccountTokens(registry, o.serviceAccount ?? {}, log);
  let openid: OpenIdDocuments | undefined; // known once the port is
  const server = createServer({
    registry, strategies: allStrategies,
    authenticator: unionAuthenticator([...(o.authenticators ?? [x509Authenticator]), tokens.authenticator], o.anonymousAuth ?? true),
    tokenRequests: tokens.tokenRequests, reviewToken: tokens.reviewToken, openid: () => openid,
    authorizer: o.authorizer ?? allowAll,
    tls: o.tls ? { key: o.tls.key, cert: o.tls.cert, ca: o.tls.clientCA } : undefined,
    advertiseAddress: `${o.advertiseAddress ?? o.bindAddress ?? '127.0.0.1'}:${o.securePort ?? 0}`,
    bookmarkIntervalMs: o.bookmarkIntervalMs, log, isReady: () => ready, kubeletClient: o.kubeletClient,
  });
  const host = o.bindAddress ?? '127.0.0.1';
  await server.app.listen({ host, port: o.securePort ?? 6443 });
  const port = (server.app.server.address() as AddressInfo).port;
  const externalHost = o.advertiseAddress ?? (host === '0.0.0.0' ? '127.0.0.1' : host);
  openid = await openIdDocuments(tokens.issuer, o.serviceAccount?.jwksUri ?? `https://${externalHost.includes(':') ? `[${externalHost}]` : externalHost}:${port}/openid/v1/jwks`, tokens.keys);
  try {
    await bootstrap(registry, { kubernetesServiceIP: allocators.firstIP, advertiseAddress: o.advertiseAddress ?? (host === '0.0.0.0' ? '127.0.0.1' : host), securePort: port });
  } catch (err) {
    await server.app.close();
    await registry.stop();
    store.close();
    throw err;
  }
  registry.resumeNamespaceDeletions();
  ready = true;
  // Every interval, compact up to the revision seen one interval ago, so watchers have a full interval to catch up.
  const interval = o.etcdCompactionIntervalMs ?? 5 * 60_000;
  let lastRevision = 0;
  const compactor = interval > 0 ? setInterval(() => {
    void (async () => {
      try {
        const now = await store.currentRevision();
        if (lastRevision > 0) await store.compact(lastRevision);
        lastRevision = now;
      } catch (err) {
        log('etcd compaction failed', { err: (err as Error).message });
      }
    })();
  }, interval) : undefined;
  compactor?.unref();
  const url = `${o.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url, port, registry,
    closeWatches: () => server.stopWatches(),
    async close() {
      if (compactor) clearInterval(compactor);
      server.stopWatches();
      await server.app.close();
      await registry.stop();
      store.close();
    },
  };
}
