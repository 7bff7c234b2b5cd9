// The HTTPS front door: fastify with one catch-all route, our own path parsing (RequestInfo), authentication and
// authorization per request, discovery, OpenAPI, health, metrics, and the resource handlers. Every failure is a
// metav1.Status; nothing a client sends reaches a 500.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Counter, Histogram, Registry as MetricsRegistry, collectDefaultMetrics } from 'prom-client';
import { ApiError, errors, toStatus } from '../../../api/errors.ts';
import type { Authenticator, UserInfo } from '../auth/authenticator.ts';
import { forbiddenMessage, type Attributes, type Authorizer } from '../auth/authorizer.ts';
import type { Registry } from '../registry/rest.ts';
import type { Strategy } from '../registry/types.ts';
import { maxBodyBytes } from './body.ts';
import { aggregatedContentType, aggregatedDiscovery, aggregatedVersion, legacyApiVersions, legacyGroup, legacyGroupList, legacyResourceList } from './discovery.ts';
import * as h from './handlers.ts';
import { buildOpenApi } from './openapi.ts';
import { parseResourcePath } from './request-info.ts';
import { wantsTable } from './table.ts';
import { serveWatch } from './watch.ts';
import { proxyLog, proxyUpgrade, resolveTarget, writeStatus, type KubeletClientConfig } from './kubelet-proxy.ts';
import { findReview, reviewStrategies, serveReview, serveTokenRequest } from './reviews.ts';
import type { ReviewContext } from '../registry/reviews.ts';
import type { TokenRequestOptions } from '../registry/tokenrequest.ts';
import type { OpenIdDocuments } from '../auth/openid.ts';

export interface ServerOptions {
  registry: Registry;
  strategies: Strategy[];
  authenticator: Authenticator;
  authorizer: Authorizer;
  tls?: { key: string | Buffer; cert: string | Buffer; ca?: string | Buffer };
  /** Address clients use to reach this server, for /api serverAddressByClientCIDRs. */
  advertiseAddress: string;
  bookmarkIntervalMs?: number;
  log?: (msg: string, extra?: Record<string, unknown>) => void;
  isReady?: () => boolean;
  kubeletClient?: KubeletClientConfig;
  /** serviceaccounts/token issuance; without it the subresource is a 404. */
  tokenRequests?: TokenRequestOptions;
  /** TokenReview's token check. */
  reviewToken?: ReviewContext['reviewToken'];
  /** Service-account issuer discovery documents, when the issuer is an https URL. */
  openid?: () => OpenIdDocuments | undefined;
}

export const version = {
  major: '1', minor: '32', gitVersion: 'v1.32.0-kts', gitCommit: '0000000000000000000000000000000000000000', gitTreeState: 'clean',
  buildDate: '2026-01-01T00:00:00Z', goVersion: 'go1.23.0', compiler: 'gc', platform: 'linux/amd64',
};

/** etcd client failures as Statuses: an oversized object is the client's (413), an unreachable etcd a 503. */
export function storageError(err: unknown): unknown {
  if (err instanceof ApiError || !(err instanceof Error)) return err;
  if (/request is too large/i.test(err.message)) return new ApiError('RequestEntityTooLarge', `the object is too large to store: ${err.message}`);
  if (/^(GRPCUnavailableError|GRPCDeadlineExceededError|GRPCCancelledError|ClientClosedError|GRPCConnectFailedError)$/.test(err.constructor.name)) {
    return errors.unavailable(`storage is unavailable: ${err.message}`);
  }
  return err;
}

const pathNotFound = (message = 'the server could not find the requested resource') => new ApiError('NotFound', message);

const verbsByMethod: Record<string, string> = { GET: 'get', HEAD: 'get', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

export interface ApiServer { app: FastifyInstance; stopWatches(): void }

export function createServer(opts: ServerOptions): ApiServer {
  const log = opts.log ?? (() => {});
  const app = Fastify({
    https: opts.tls ? { key: opts.tls.key, cert: opts.tls.cert, ca: opts.tls.ca, requestCert: true, rejectUnauthorized: false } : null,
    bodyLimit: maxBodyBytes,
    logger: false,
    return503OnClosing: false,
    exposeHeadRoutes: false,
    // malformed HTTP still gets a Status, then the connection is closed
    clientErrorHandler: (err: Error & { code?: string }, socket: import('node:net').Socket) => {
      if (socket.writable && !socket.destroyed) {
        const body = JSON.stringify(toStatus(err.code === 'HPE_HEADER_OVERFLOW' ? new ApiError('RequestEntityTooLarge', 'request headers are too large') : errors.badRequest(`malformed HTTP request: ${err.code ?? err.message}`)));
        const code = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
        socket.end(`HTTP/1.1 ${code}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      } else socket.destroy();
    },
    // our own query parsing (URLSearchParams keeps repeated keys)
    routerOptions: { maxParamLength: 1_000_000, querystringParser: () => ({}) },
    frameworkErrors: (err: unknown, _req: FastifyRequest, reply: FastifyReply) => { void sendStatus(reply, badFrameworkError(err)); },
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;

  const metrics = new MetricsRegistry();
  collectDefaultMetrics({ register: metrics });
  const requests = new Counter({ name: 'apiserver_request_total', help: 'Requests by verb, resource and HTTP code.', labelNames: ['verb', 'group', 'resource', 'subresource', 'code'], registers: [metrics] });
  const duration = new Histogram({ name: 'apiserver_request_duration_seconds', help: 'Response latency by verb and resource.', labelNames: ['verb', 'group', 'resource'], registers: [metrics], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });

  const openapi = buildOpenApi(opts.strategies);
  // discovery also lists the create-only reviews, which have no storage
  const discoverable = [...opts.strategies, ...reviewStrategies];
  const watches = new Set<() => void>();
  const registerWatch = (stop: () => void) => { watches.add(stop); return () => { watches.delete(stop); }; };

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxBodyBytes }, (_req, body, done) => done(null, body));
  app.setErrorHandler((err, _req, reply) => { void sendStatus(reply, badFrameworkError(err)); });
  // one route for every method so bodies are always read off the connection (keep-alive stays in sync)
  const methods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
  app.route({ method: methods, url: '/', handler: (req, reply) => route(req, reply) });
  app.route({ method: methods, url: '/*', handler: (req, reply) => route(req, reply) });
  app.setNotFoundHandler((req, reply) => { void route(req, reply); });

  function badFrameworkError(err: unknown): ApiError {
    if (err instanceof ApiError) return err;
    const e = err as { statusCode?: number; code?: string; message?: string };
    if (e?.statusCode === 413 || e?.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return errors.tooLarge(maxBodyBytes);
    if (e?.statusCode === 415) return errors.unsupportedMediaType('');
    if (e?.statusCode && e.statusCode >= 400 && e.statusCode < 500) return errors.badRequest(e.message ?? 'bad request');
    log('internal error', { err: e?.message });
    return errors.internal('an internal error occurred');
  }

  async function sendStatus(reply: FastifyReply, err: unknown): Promise<void> {
    err = storageError(err);
    if (!(err instanceof ApiError)) log('internal error', { err: err instanceof Error ? err.stack : String(err) });
    const status = toStatus(err);
    if (reply.sent || reply.raw.headersSent) return;
    if (status.code === 429) reply.header('Retry-After', '1');
    reply.code(status.code).header('Content-Type', 'application/json').send(JSON.stringify(status));
  }

  function sendJson(reply: FastifyReply, code: number, body: unknown, contentType = 'application/json', warnings: string[] = []): void {
    if (warnings.length) reply.header('Warning', warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(', '));
    reply.code(code).header('Content-Type', contentType).send(typeof body === 'string' ? body : JSON.stringify(body));
  }

  async function authorize(user: UserInfo, attrs: Omit<Attributes, 'user'>): Promise<void> {
    const a = { ...attrs, user };
    const d = await opts.authorizer.authorize(a);
    if (!d.allowed) throw errors.forbidden(forbiddenMessage(a, d.reason), { kind: attrs.resource, name: attrs.name, group: attrs.apiGroup });
  }

  async function route(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const started = performance.now();
    const rawUrl = req.raw.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q >= 0 ? rawUrl.slice(0, q) : rawUrl;
    const query = new h.Query(new URLSearchParams(q >= 0 ? rawUrl.slice(q + 1) : ''));
    const method = req.method;
    let labels = { verb: (verbsByMethod[method] ?? method).toUpperCase(), group: '', resource: '', subresource: '' };
    try {
      const user = await opts.authenticator.authenticate(req.raw);
      if (!user) throw errors.unauthorized();
      const info = parseResourcePath(path);
      if (!info || !info.resource) {
        await authorize(user, { verb: (verbsByMethod[method] ?? method).toLowerCase(), resourceRequest: false, apiGroup: '', apiVersion: '', namespace: '', resource: '', subresource: '', name: '', path });
        labels.resource = path.startsWith('/api') ? 'discovery' : path;
        await serveNonResource(req, reply, path, info);
        return;
      }
      const review = findReview(info);
      if (review) {
        labels = { ...labels, verb: 'CREATE', group: info.group, resource: info.resource };
        const result = await serveReview(review, { info, method, path, user, contentType: req.headers['content-type'], body: Buffer.isBuffer(req.body) ? req.body : undefined, authorize, context: { authorizer: opts.authorizer, reviewToken: opts.reviewToken } });
        sendJson(reply, result.code, result.body, result.contentType, result.warnings);
        requests.inc({ ...labels, code: String(result.code) });
        return;
      }
      const store = opts.registry.get(info.group, info.resource);
      if (!store || store.strategy.version !== info.version) throw pathNotFound();
      const s = store.strategy;
      labels = { ...labels, group: info.group, resource: info.resource, subresource: info.subresource ?? '' };
      // namespaced resources listed across namespaces come without a namespace; cluster-scoped ones never have one
      if (!s.namespaced && info.namespace !== undefined) throw pathNotFound();
      if (s.namespaced && info.name !== undefined && info.namespace === undefined) throw pathNotFound();
      const watch = info.watchPath || (method === 'GET' && query.bool('watch'));
      let verb = verbsByMethod[method];
      if (!verb) throw errors.methodNotAllowed(`the server does not allow this method on the requested resource`);
      if (info.name === undefined) {
        if (method === 'GET') verb = watch ? 'watch' : 'list';
        else if (method === 'DELETE') verb = 'deletecollection';
        else if (method !== 'POST') throw errors.methodNotAllowed(`the server does not allow this method on the requested resource`);
      } else if (method === 'POST' && !info.subresource) {
        throw errors.methodNotAllowed(`the server does not allow this method on the requested resource`);
      }
      labels.verb = verb.toUpperCase();
      await authorize(user, { verb, resourceRequest: true, apiGroup: info.group, apiVersion: info.version, namespace: info.namespace ?? '', resource: info.resource, subresource: info.subresource ?? '', name: info.name ?? '', path });
      const ctx: h.Ctx = {
        store, namespace: info.namespace, name: info.name, subresource: info.subresource, query,
        accept: req.headers.accept, contentType: req.headers['content-type'], userAgent: req.headers['user-agent'], body: Buffer.isBuffer(req.body) ? req.body : undefined,
      };
      if (verb === 'watch') {
        if (info.name !== undefined) throw errors.methodNotAllowed('watch of a single object by name in the path is not supported: use fieldSelector=metadata.name=<name>');
        const include = query.str('includeObject') ?? 'Metadata';
        if (!['None', 'Metadata', 'Object'].includes(include)) throw errors.badRequest(`includeObject: Unsupported value: "${include}"`);
        // validate selectors before hijacking the reply, so bad ones are a plain 400
        store.selection(query.str('labelSelector'), query.str('fieldSelector'));
        const timeoutSeconds = query.int('timeoutSeconds', 0);
        const allowWatchBookmarks = query.bool('allowWatchBookmarks');
        requests.inc({ ...labels, code: '200' });
        reply.hijack();
        serveWatch(store, {
          namespace: info.namespace, labelSelector: query.str('labelSelector'), fieldSelector: query.str('fieldSelector'),
          resourceVersion: query.str('resourceVersion'), timeoutSeconds, allowWatchBookmarks,
          table: wantsTable(req.headers.accept) ? { include: include as 'None' | 'Metadata' | 'Object' } : undefined,
          bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 60_000,
        }, reply.raw, registerWatch);
        return;
      }
      if (s.resource === 'pods' && info.name !== undefined && ['log', 'exec', 'attach', 'portforward'].includes(info.subresource ?? '')) {
        if (info.subresource !== 'log') throw errors.badRequest(`Upgrade request required: ${info.subresource} is served over WebSocket (Upgrade: websocket)`);
        if (method !== 'GET') throw errors.methodNotAllowed('pods/log only supports GET');
        const target = await resolveTarget(opts.registry, info.namespace!, info.name, 'log', query.params);
        requests.inc({ ...labels, code: '200' });
        reply.hijack();
        await proxyLog(target, opts.kubeletClient ?? {}, reply.raw);
        return;
      }
      const result = await dispatch(ctx, verb, info.subresource, s);
      sendJson(reply, result.code, result.body, result.contentType, result.warnings);
      requests.inc({ ...labels, code: String(result.code) });
    } catch (err) {
      const status = toStatus(storageError(err));
      requests.inc({ ...labels, code: String(status.code) });
      await sendStatus(reply, err);
    } finally {
      duration.observe({ verb: labels.verb, group: labels.group, resource: labels.resource }, (performance.now() - started) / 1000);
    }
  }

  async function dispatch(ctx: h.Ctx, verb: string, sub: string | undefined, s: Strategy): Promise<h.Reply> {
    if (s.resource === 'serviceaccounts' && s.group === '' && sub === 'token' && verb === 'create') {
      return serveTokenRequest(opts.registry, opts.tokenRequests, ctx.namespace!, ctx.name!, ctx.contentType, ctx.body);
    }
    if (sub !== undefined) {
      const ok = (sub === 'status' && s.hasStatus && ['get', 'update', 'patch'].includes(verb))
        || (sub === 'scale' && s.scale && ['get', 'update', 'patch'].includes(verb))
        || (s.resource === 'pods' && ((sub === 'binding' && verb === 'create') || (sub === 'eviction' && verb === 'create')));
      if (!ok) {
        if ((s.extraSubresources ?? []).some((e) => e.name === sub)) throw pathNotFound(`the server could not find the requested resource (${verb} ${s.resource}/${sub})`);
        throw pathNotFound();
      }
      if (sub === 'binding') return h.bindPod(ctx);
      if (sub === 'eviction') return h.evictPod(ctx);
    }
    switch (verb) {
      case 'get': return h.getObject(ctx);
      case 'list': return h.listObjects(ctx);
      case 'create': return h.createObject(ctx);
      case 'update': return h.updateObject(ctx);
      case 'patch': return h.patchObject(ctx);
      case 'delete': return h.deleteObject(ctx);
      case 'deletecollection': return h.deleteCollection(ctx);
    }
    throw errors.methodNotAllowed('the server does not allow this method on the requested resource');
  }

  async function serveNonResource(req: FastifyRequest, reply: FastifyReply, path: string, info: ReturnType<typeof parseResourcePath>): Promise<void> {
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') throw errors.methodNotAllowed(`the server does not allow this method on the requested resource`);
    const p = path.replace(/\/+$/, '') || '/';
    const accept = req.headers.accept;
    if (p === '/healthz' || p === '/livez' || p === '/readyz' || /^\/(healthz|livez|readyz)\/[a-z0-9-]+$/.test(p)) {
      const ready = p.startsWith('/readyz') ? (opts.isReady?.() ?? true) : true;
      if (!ready) { reply.code(503).header('Content-Type', 'text/plain; charset=utf-8').send('[-]informer-sync failed: not finished\nreadyz check failed'); return; }
      reply.code(200).header('Content-Type', 'text/plain; charset=utf-8').send('ok');
      return;
    }
    if (p === '/version') { sendJson(reply, 200, version); return; }
    const oidc = (p === '/.well-known/openid-configuration' || p === '/openid/v1/jwks') ? opts.openid?.() : undefined;
    if (oidc) {
      if (p === '/openid/v1/jwks') sendJson(reply, 200, oidc.jwks, 'application/jwk-set+json');
      else sendJson(reply, 200, oidc.configuration);
      return;
    }
    if (p === '/metrics') {
      const text = await metrics.metrics();
      reply.code(200).header('Content-Type', metrics.contentType).send(text);
      return;
    }
    if (p === '/api' || p === '/apis') {
      const v = aggregatedVersion(accept);
      if (v) { sendJson(reply, 200, aggregatedDiscovery(discoverable, p === '/api', v), aggregatedContentType(v)); return; }
      sendJson(reply, 200, p === '/api' ? legacyApiVersions(opts.advertiseAddress) : legacyGroupList(discoverable));
      return;
    }
    const groupOnly = p.match(/^\/apis\/([^/]+)$/);
    if (groupOnly) {
      const g = legacyGroup(discoverable, groupOnly[1]!);
      if (!g) throw pathNotFound();
      sendJson(reply, 200, g);
      return;
    }
    if (info && info.resource === undefined && info.parts.length === (info.apiPrefix === 'api' ? 2 : 3)) {
      const list = legacyResourceList(discoverable, info.group, info.version);
      if (!list) throw pathNotFound();
      sendJson(reply, 200, list);
      return;
    }
    if (p === '/openapi/v3') { sendJson(reply, 200, openapi.root); return; }
    if (p.startsWith('/openapi/v3/')) {
      const doc = openapi.docs.get(p.slice('/openapi/v3/'.length));
      if (!doc) throw pathNotFound();
      sendJson(reply, 200, doc);
      return;
    }
    if (p === '/') {
      sendJson(reply, 200, { paths: ['/api', '/api/v1', '/apis', ...[...new Set(discoverable.filter((s) => s.group).map((s) => `/apis/${s.group}/${s.version}`))], '/healthz', '/livez', '/metrics', '/openapi/v3', '/readyz', '/version'] });
      return;
    }
    throw pathNotFound();
  }

  // exec, attach and portforward arrive as WebSocket upgrades, outside fastify's routing
  app.server.on('upgrade', (req: import('node:http').IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => {
    void (async () => {
      try {
        const user = await opts.authenticator.authenticate(req);
        if (!user) throw errors.unauthorized();
        const rawUrl = req.url ?? '/';
        const qi = rawUrl.indexOf('?');
        const path = qi >= 0 ? rawUrl.slice(0, qi) : rawUrl;
        const params = new URLSearchParams(qi >= 0 ? rawUrl.slice(qi + 1) : '');
        const info = parseResourcePath(path);
        if (!info || info.group !== '' || info.resource !== 'pods' || !info.name || !info.namespace || !['exec', 'attach', 'portforward'].includes(info.subresource ?? '')) {
          throw pathNotFound();
        }
        await authorize(user, { verb: 'create', resourceRequest: true, apiGroup: '', apiVersion: 'v1', namespace: info.namespace, resource: 'pods', subresource: info.subresource!, name: info.name, path });
        const target = await resolveTarget(opts.registry, info.namespace, info.name, info.subresource!, params);
        requests.inc({ verb: 'CONNECT', group: '', resource: 'pods', subresource: info.subresource!, code: '101' });
        proxyUpgrade(target, opts.kubeletClient ?? {}, req, socket, head);
      } catch (err) {
        if (!(err instanceof ApiError)) log('upgrade error', { err: err instanceof Error ? err.message : String(err) });
        writeStatus(socket, err);
      }
    })();
  });

  return {
    app,
    stopWatches() { for (const stop of [...watches]) stop(); },
  };
}
