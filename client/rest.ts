// A light REST client for the Kubernetes API over node:http(s) with a keep-alive agent. It builds resource
// paths, throttles itself (token bucket), retries on Retry-After, applies timeouts and turns every
// non-2xx reply into an ApiError parsed from the server's metav1.Status, so callers can check `reason`.
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { V1DeleteOptions, V1ListMeta, V1Status } from '@kubernetes/client-node';
import { ApiError } from '../api/errors.ts';
import type { Cause, StatusReason } from '../api/errors.ts';
import type { ClientConfig } from './kubeconfig.ts';
import { TokenBucket, sleep } from './ratelimit.ts';

/** Names one resource collection or object: group "" (or undefined) is the core group under /api. */
export interface ResourceRef {
  group?: string;
  version: string;
  /** Plural lower-case resource name: "pods", "deployments", "leases". */
  resource: string;
  /** Omit for cluster-scoped resources and for lists across all namespaces. */
  namespace?: string;
  name?: string;
  /** "status", "scale", "binding", "eviction", "log", ... (needs name). */
  subresource?: string;
}

/** List metadata as it is on the wire (client-node's generated type renames `continue` to `_continue`). */
export type ListMeta = Omit<V1ListMeta, '_continue'> & { continue?: string };

/** A list reply: items of T plus list metadata (resourceVersion, continue). */
export interface KubeList<T> {
  apiVersion?: string;
  kind?: string;
  metadata: ListMeta;
  items: T[];
}

export type Query = Record<string, string | number | boolean | string[] | undefined>;

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  resourceVersionMatch?: 'NotOlderThan' | 'Exact';
  timeoutSeconds?: number;
  signal?: AbortSignal;
}

export interface WriteOptions {
  fieldManager?: string;
  fieldValidation?: 'Strict' | 'Warn' | 'Ignore';
  dryRun?: boolean;
  signal?: AbortSignal;
}

export type PatchType = 'merge' | 'strategic' | 'json' | 'apply';

export const patchContentType: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
  apply: 'application/apply-patch+yaml',
};

export interface PatchOptions extends WriteOptions {
  /** Server-side apply: take ownership of conflicting fields. */
  force?: boolean;
}

export interface DeleteOptions {
  gracePeriodSeconds?: number;
  propagationPolicy?: 'Foreground' | 'Background' | 'Orphan';
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
  signal?: AbortSignal;
}

export interface RequestOptions {
  method: string;
  path: string;
  query?: Query;
  /** Serialized as JSON unless it is already a string or Buffer. */
  body?: unknown;
  contentType?: string;
  accept?: string;
  /** Overrides the client's timeout; 0 disables it (streams). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

const KNOWN_REASONS = new Set<StatusReason>([
  'BadRequest', 'Unauthorized', 'Forbidden', 'NotFound', 'AlreadyExists', 'Conflict', 'Invalid', 'MethodNotAllowed',
  'NotAcceptable', 'Gone', 'Expired', 'RequestEntityTooLarge', 'UnsupportedMediaType', 'TooManyRequests',
  'InternalError', 'ServiceUnavailable', 'Timeout',
]);

const REASON_BY_CODE: Record<number, StatusReason> = {
  400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed',
  406: 'NotAcceptable', 409: 'Conflict', 410: 'Expired', 413: 'RequestEntityTooLarge', 415: 'UnsupportedMediaType',
  422: 'Invalid', 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout',
};

/** Turn a metav1.Status (from a reply body or a watch ERROR event) into an ApiError. */
export function statusToError(status: Partial<V1Status> | undefined, httpCode: number, fallbackMessage = ''): ApiError {
  const byCode = REASON_BY_CODE[httpCode] ?? (httpCode >= 500 ? 'InternalError' : 'BadRequest');
  const reason = status?.reason && KNOWN_REASONS.has(status.reason as StatusReason) ? (status.reason as StatusReason) : byCode;
  const message = status?.message || fallbackMessage || `the server responded with HTTP ${httpCode}`;
  const d = status?.details;
  const causes: Cause[] = (d?.causes ?? []).map((c) => ({
    reason: c.reason as Cause['reason'], message: c.message ?? '', ...(c.field ? { field: c.field } : {}),
  }));
  return new ApiError(reason, message, { group: d?.group, kind: d?.kind, name: d?.name }, causes);
}

/** /api/v1/namespaces/ns/pods/name/status or /apis/apps/v1/deployments. */
export function resourcePath(ref: ResourceRef): string {
  if (!ref.version || !ref.resource) throw new Error('resourcePath: version and resource are required');
  if (ref.subresource && !ref.name) throw new Error(`resourcePath: subresource "${ref.subresource}" needs a name`);
  const seg = (s: string) => encodeURIComponent(s);
  let p = ref.group ? `/apis/${seg(ref.group)}/${seg(ref.version)}` : `/api/${seg(ref.version)}`;
  if (ref.namespace) p += `/namespaces/${seg(ref.namespace)}`;
  p += `/${seg(ref.resource)}`;
  if (ref.name) p += `/${seg(ref.name)}`;
  if (ref.subresource) p += `/${seg(ref.subresource)}`;
  return p;
}

export function encodeQuery(query: Query | undefined): string {
  if (!query) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === '') continue;
    for (const one of Array.isArray(v) ? v : [v]) parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(String(one))}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

function listQuery(o: ListOptions): Query {
  return {
    labelSelector: o.labelSelector, fieldSelector: o.fieldSelector, limit: o.limit, continue: o.continue,
    resourceVersion: o.resourceVersion, resourceVersionMatch: o.resourceVersionMatch, timeoutSeconds: o.timeoutSeconds,
  };
}

function writeQuery(o: WriteOptions): Query {
  return { fieldManager: o.fieldManager, fieldValidation: o.fieldValidation, dryRun: o.dryRun ? 'All' : undefined };
}

const TOKEN_FILE_REREAD_MS = 60_000;
const MAX_RETRY_AFTER = 3;

export class RestClient {
  readonly config: ClientConfig;
  private readonly base: URL;
  private readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;
  private readonly limiter?: TokenBucket;
  private tokenCache?: { token: string; readAt: number };

  private readonly onWarning?: (warning: string) => void;

  /** `onWarning` receives the text of each `Warning: 299 - "..."` response header (deprecations, dropped fields). */
  constructor(config: ClientConfig, opts: { onWarning?: (warning: string) => void } = {}) {
    this.config = config;
    this.onWarning = opts.onWarning;
    try {
      this.base = new URL(config.server);
    } catch {
      throw new Error(`RestClient: server "${config.server}" is not a URL`);
    }
    const isHttps = this.base.protocol === 'https:';
    if (!isHttps && this.base.protocol !== 'http:') throw new Error(`RestClient: server "${config.server}" must be http:// or https://`);
    this.transport = isHttps ? https : http;
    this.agent = isHttps
      ? new https.Agent({
        keepAlive: true, maxFreeSockets: 16, ca: config.ca, cert: config.cert, key: config.key,
        rejectUnauthorized: !config.insecureSkipTLSVerify, servername: config.tlsServerName,
      })
      : new http.Agent({ keepAlive: true, maxFreeSockets: 16 });
    const qps = config.qps ?? 50;
    if (qps > 0) this.limiter = new TokenBucket(qps, config.burst ?? 100);
  }

  /** The namespace of the kubeconfig context, "default" if none. */
  get namespace(): string {
    return this.config.namespace ?? 'default';
  }

  /** Close idle keep-alive sockets (open watches end when their callers abort them). */
  close(): void {
    this.agent.destroy();
  }

  private bearerToken(): string | undefined {
    if (this.config.token) return this.config.token;
    if (!this.config.tokenFile) return undefined;
    const now = Date.now();
    if (!this.tokenCache || now - this.tokenCache.readAt > TOKEN_FILE_REREAD_MS) {
      try {
        this.tokenCache = { token: readFileSync(this.config.tokenFile, 'utf8').trim(), readAt: now };
      } catch (err) {
        // Keep using the last token we read rather than failing every request while the file is replaced.
        if (!this.tokenCache) throw new Error(`cannot read token file ${this.config.tokenFile}: ${(err as Error).message}`);
      }
    }
    return this.tokenCache.token;
  }

  private headers(opts: RequestOptions, body: Buffer | undefined): http.OutgoingHttpHeaders {
    const h: http.OutgoingHttpHeaders = {
      accept: opts.accept ?? 'application/json',
      'user-agent': this.config.userAgent ?? 'kts-client/0.1',
    };
    const token = this.bearerToken();
    if (token) h.authorization = `Bearer ${token}`;
    else if (this.config.username !== undefined) {
      h.authorization = `Basic ${Buffer.from(`${this.config.username}:${this.config.password ?? ''}`).toString('base64')}`;
    }
    if (this.config.impersonateUser) h['impersonate-user'] = this.config.impersonateUser;
    if (this.config.impersonateGroups?.length) h['impersonate-group'] = this.config.impersonateGroups;
    if (body) {
      h['content-type'] = opts.contentType ?? 'application/json';
      h['content-length'] = body.length;
    }
    return h;
  }

  /**
   * Send one request and return the response head with its body still streaming. Throttled by the
   * client's token bucket. Non-2xx replies are read and thrown as ApiError. The caller owns the stream.
   */
  async stream(opts: RequestOptions): Promise<IncomingMessage> {
    const res = await this.send(opts, true);
    return res as IncomingMessage;
  }

  /** Send a request and read the whole body; retries up to 3 times when the server says Retry-After. */
  async raw(opts: RequestOptions): Promise<RawResponse> {
    for (let attempt = 0; ; attempt++) {
      try {
        return (await this.send(opts, false)) as RawResponse;
      } catch (err) {
        const retryAfter = (err as { retryAfterSeconds?: number }).retryAfterSeconds;
        if (retryAfter === undefined || attempt >= MAX_RETRY_AFTER) throw err;
        await sleep(Math.min(retryAfter, 10) * 1000, opts.signal);
      }
    }
  }

  /** Send a request and parse the JSON reply (undefined for an empty body). */
  async request<T>(opts: RequestOptions): Promise<T> {
    const res = await this.raw(opts);
    if (res.body.length === 0) return undefined as T;
    try {
      return JSON.parse(res.body.toString('utf8')) as T;
    } catch {
      throw new Error(`${opts.method} ${opts.path}: the server replied with a body that is not JSON`);
    }
  }

  private async send(opts: RequestOptions, streaming: boolean): Promise<IncomingMessage | RawResponse> {
    if (this.limiter) await this.limiter.take(opts.signal);
    const body = opts.body === undefined ? undefined
      : Buffer.isBuffer(opts.body) ? opts.body
        : Buffer.from(typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body));
    const basePath = this.base.pathname.replace(/\/+$/, '');
    const path = basePath + opts.path + encodeQuery(opts.query);
    const timeoutMs = opts.timeoutMs ?? (streaming ? 0 : this.config.timeoutMs ?? 30_000);
    const signals = [opts.signal, timeoutMs > 0 ? AbortSignal.timeout(Math.ceil(timeoutMs)) : undefined].filter((s) => s !== undefined);
    const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
    const what = `${opts.method} ${opts.path}`;

    return new Promise((resolve, reject) => {
      const req = this.transport.request({
        protocol: this.base.protocol, hostname: this.base.hostname.replace(/^\[|\]$/g, ''), port: this.base.port,
        method: opts.method, path, agent: this.agent, headers: this.headers(opts, body), signal,
      }, (res) => {
        const code = res.statusCode ?? 0;
        if (this.onWarning && res.headers.warning) {
          try {
            for (const w of parseWarnings(res.headers.warning)) this.onWarning(w);
          } catch { /* a failing warning logger must not fail the request */ }
        }
        if (streaming && code >= 200 && code < 300) return resolve(res);
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => reject(wrapNetworkError(err, what, signal)));
        res.on('end', () => {
          const buf = Buffer.concat(chunks);
          if (code >= 200 && code < 300) return resolve({ status: code, headers: res.headers, body: buf });
          reject(errorFromResponse(code, res.headers, buf));
        });
      });
      req.on('error', (err) => reject(wrapNetworkError(err, what, signal)));
      req.end(body);
    });
  }

  // ---- typed verbs ----

  get<T>(ref: ResourceRef, opts: { signal?: AbortSignal; resourceVersion?: string } = {}): Promise<T> {
    requireName(ref, 'get');
    return this.request<T>({ method: 'GET', path: resourcePath(ref), query: { resourceVersion: opts.resourceVersion }, signal: opts.signal });
  }

  /** One page (or the whole list when no limit is given). */
  list<T>(ref: ResourceRef, opts: ListOptions = {}): Promise<KubeList<T>> {
    return this.request<KubeList<T>>({ method: 'GET', path: resourcePath({ ...ref, name: undefined }), query: listQuery(opts), signal: opts.signal });
  }

  /**
   * Every item, following `continue` pages of `pageSize`; the resourceVersion is the list's (all pages
   * share it). If a continue token expires mid-way (410), falls back to one unpaginated list.
   */
  async listAll<T>(ref: ResourceRef, opts: ListOptions & { pageSize?: number } = {}): Promise<KubeList<T>> {
    const pageSize = opts.pageSize === undefined ? 500 : opts.pageSize || undefined; // 0 = one unpaginated list
    const first = await this.list<T>(ref, { ...opts, limit: pageSize, continue: undefined });
    const items = [...(first.items ?? [])];
    let cont = first.metadata?.continue;
    while (cont) {
      let page: KubeList<T>;
      try {
        page = await this.list<T>(ref, { ...opts, limit: pageSize, continue: cont, resourceVersion: undefined, resourceVersionMatch: undefined });
      } catch (err) {
        if (err instanceof ApiError && err.code === 410) return this.list<T>(ref, { ...opts, limit: undefined, continue: undefined });
        throw err;
      }
      items.push(...(page.items ?? []));
      cont = page.metadata?.continue;
    }
    return { ...first, metadata: { ...first.metadata, continue: undefined }, items };
  }

  create<T>(ref: ResourceRef, body: T, opts: WriteOptions = {}): Promise<T> {
    // POST goes to the collection, or to a named object's subresource (binding, eviction).
    const target = ref.subresource ? ref : { ...ref, name: undefined };
    return this.request<T>({ method: 'POST', path: resourcePath(target), query: writeQuery(opts), body, signal: opts.signal });
  }

  /** PUT the whole object; include metadata.resourceVersion for optimistic concurrency (409 Conflict if stale). */
  update<T>(ref: ResourceRef, body: T, opts: WriteOptions = {}): Promise<T> {
    requireName(ref, 'update');
    return this.request<T>({ method: 'PUT', path: resourcePath(ref), query: writeQuery(opts), body, signal: opts.signal });
  }

  /** PUT to the status subresource: only .status changes. */
  updateStatus<T>(ref: ResourceRef, body: T, opts: WriteOptions = {}): Promise<T> {
    return this.update<T>({ ...ref, subresource: 'status' }, body, opts);
  }

  /** PATCH with merge, strategic-merge, JSON (RFC 6902 array) or server-side apply (needs fieldManager). */
  patch<T>(ref: ResourceRef, type: PatchType, patch: unknown, opts: PatchOptions = {}): Promise<T> {
    requireName(ref, 'patch');
    if (type === 'apply' && !opts.fieldManager) throw new Error('patch: server-side apply needs opts.fieldManager');
    if (type === 'json' && !Array.isArray(patch)) throw new Error('patch: a JSON patch must be an array of operations');
    const query = { ...writeQuery(opts), force: opts.force === undefined ? undefined : opts.force };
    return this.request<T>({
      method: 'PATCH', path: resourcePath(ref), query, body: patch, contentType: patchContentType[type], signal: opts.signal,
    });
  }

  patchStatus<T>(ref: ResourceRef, type: PatchType, patch: unknown, opts: PatchOptions = {}): Promise<T> {
    return this.patch<T>({ ...ref, subresource: 'status' }, type, patch, opts);
  }

  /** DELETE one object; returns the object (if deletion is pending) or a Status. */
  delete<T = V1Status>(ref: ResourceRef, opts: DeleteOptions = {}): Promise<T> {
    requireName(ref, 'delete');
    const body: V1DeleteOptions = { kind: 'DeleteOptions', apiVersion: 'v1' };
    if (opts.gracePeriodSeconds !== undefined) body.gracePeriodSeconds = opts.gracePeriodSeconds;
    if (opts.propagationPolicy) body.propagationPolicy = opts.propagationPolicy;
    if (opts.preconditions) body.preconditions = opts.preconditions;
    if (opts.dryRun) body.dryRun = ['All'];
    return this.request<T>({ method: 'DELETE', path: resourcePath(ref), body, signal: opts.signal });
  }
}

/** The texts of RFC 7234 warning headers as the apiserver writes them: `299 - "text"`, comma-joined. */
export function parseWarnings(header: string | string[]): string[] {
  const out: string[] = [];
  for (const h of Array.isArray(header) ? header : [header]) {
    for (const m of h.matchAll(/\d{3} \S+ "((?:[^"\\]|\\.)*)"/g)) out.push(m[1]!.replace(/\\(.)/g, '$1'));
  }
  return out;
}

function requireName(ref: ResourceRef, verb: string): void {
  if (!ref.name) throw new Error(`${verb} ${ref.resource}: a name is required`);
}

function errorFromResponse(code: number, headers: http.IncomingHttpHeaders, body: Buffer): ApiError {
  let status: Partial<V1Status> | undefined;
  const text = body.toString('utf8');
  try {
    const parsed = JSON.parse(text) as Partial<V1Status>;
    if (parsed && parsed.kind === 'Status') status = parsed;
  } catch { /* not JSON: use the text as the message */ }
  const err = statusToError(status, code, text.trim().slice(0, 500));
  const retryAfter = headers['retry-after'];
  if ((code === 429 || code === 503) && retryAfter !== undefined) {
    const secs = Number(retryAfter);
    if (Number.isFinite(secs) && secs >= 0) Object.assign(err, { retryAfterSeconds: secs });
  } else if (code === 429) {
    Object.assign(err, { retryAfterSeconds: 1 });
  }
  return err;
}

function wrapNetworkError(err: Error, what: string, signal: AbortSignal | undefined): Error {
  if (signal?.aborted) {
    const reason = signal.reason as Error | undefined;
    if (reason?.name === 'TimeoutError') return Object.assign(new Error(`${what}: timed out`), { name: 'TimeoutError', cause: err });
    return reason instanceof Error ? reason : Object.assign(new Error(`${what}: aborted`), { name: 'AbortError' });
  }
  return Object.assign(new Error(`${what}: ${err.message}`), { code: (err as NodeJS.ErrnoException).code, cause: err });
}
