// pods/log, exec, attach and portforward: the apiserver finds the pod's node and forwards to that node's kubelet
// (:10250, HTTPS). Logs are a streamed GET; exec/attach/portforward upgrades (WebSocket, or SPDY/3.1 as kubectl's
// fallback sends) are relayed byte for byte, so whatever subprotocol the client and kubelet agree on
// (v5.channel.k8s.io, portforward.k8s.io) passes through untouched. The one exception is SPDY tunnelled in
// WebSocket (kubectl port-forward), which becomes a SPDY upgrade to the kubelet (spdy-tunnel.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { ApiError, errors, toStatus } from '../../../api/errors.ts';
import type { Registry } from '../registry/rest.ts';
import type { Obj } from '../registry/types.ts';
import { tunnelledSpdyProtocols, tunnelSpdyOverWebSocket } from './spdy-tunnel.ts';

export interface KubeletClientConfig {
  /** Client certificate and key the apiserver presents to kubelets (--kubelet-client-certificate/-key). */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** CA to verify kubelet serving certificates; without it they are not verified (upstream's default). */
  ca?: string | Buffer;
  defaultPort?: number;
}

interface Target { host: string; port: number; path: string }

const logParams = ['follow', 'previous', 'timestamps', 'tailLines', 'limitBytes', 'sinceSeconds', 'sinceTime', 'insecureSkipTLSVerifyBackend'];

async function podAndNode(registry: Registry, ns: string, name: string): Promise<{ pod: Obj; host: string; port: number }> {
  const pod = (await registry.mustGet('', 'pods').get(ns, name)) as Obj;
  const nodeName = pod.spec?.nodeName;
  if (!nodeName) throw errors.badRequest(`pod ${name} does not have a host assigned`);
  let node: Obj | undefined;
  try { node = await registry.mustGet('', 'nodes').get(undefined, nodeName); } catch { node = undefined; }
  if (!node) throw errors.notFound('nodes', nodeName);
  const addrs: Obj[] = Array.isArray(node.status?.addresses) ? node.status.addresses : [];
  const host = addrs.find((a) => a?.type === 'InternalIP')?.address ?? addrs.find((a) => a?.type === 'ExternalIP')?.address
    ?? addrs.find((a) => a?.type === 'Hostname')?.address ?? nodeName;
  const port = Number(node.status?.daemonEndpoints?.kubeletEndpoint?.Port) || 10250;
  return { pod, host, port };
}

/** The container a request means: the named one, or the only one / the default-container annotation. */
function containerOf(pod: Obj, requested: string | null): string {
  const names: string[] = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? []), ...(pod.spec?.ephemeralContainers ?? [])].map((c: Obj) => c?.name);
  if (requested) {
    if (!names.includes(requested)) throw errors.badRequest(`container ${requested} is not valid for pod ${pod.metadata?.name}`);
    return requested;
  }
  const annotated = pod.metadata?.annotations?.['kubectl.kubernetes.io/default-container'];
  if (annotated && names.includes(annotated)) return annotated;
  const main: string[] = (pod.spec?.containers ?? []).map((c: Obj) => c?.name);
  if (main.length === 1) return main[0]!;
  throw errors.badRequest(`a container name must be specified for pod ${pod.metadata?.name}, choose one of: [${main.join(' ')}]`);
}

export async function resolveTarget(registry: Registry, ns: string, name: string, sub: string, query: URLSearchParams): Promise<Target> {
  const { pod, host, port } = await podAndNode(registry, ns, name);
  const enc = encodeURIComponent;
  if (sub === 'log') {
    const q = new URLSearchParams();
    for (const p of logParams) { const v = query.get(p); if (v !== null) q.set(p, v); }
    const qs = q.toString();
    return { host, port, path: `/containerLogs/${enc(ns)}/${enc(name)}/${enc(containerOf(pod, query.get('container')))}${qs ? `?${qs}` : ''}` };
  }
  if (sub === 'exec' || sub === 'attach') {
    const container = containerOf(pod, query.get('container'));
    const q = new URLSearchParams(query);
    q.delete('container');
    const qs = q.toString();
    return { host, port, path: `/${sub}/${enc(ns)}/${enc(name)}/${enc(container)}${qs ? `?${qs}` : ''}` };
  }
  if (sub === 'portforward') {
    const qs = query.toString();
    return { host, port, path: `/portForward/${enc(ns)}/${enc(name)}${qs ? `?${qs}` : ''}` };
  }
  throw errors.notFound('pods', `${name}/${sub}`);
}

/** Streams GET pods/log from the kubelet into res (already hijacked). */
export function proxyLog(target: Target, cfg: KubeletClientConfig, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const req = https.request({ host: target.host, port: target.port, path: target.path, method: 'GET', cert: cfg.cert, key: cfg.key, ca: cfg.ca, rejectUnauthorized: Boolean(cfg.ca), timeout: 30_000 }, (up) => {
      const ok = (up.statusCode ?? 500) < 400;
      res.writeHead(ok ? 200 : up.statusCode === 404 ? 404 : 400, { 'Content-Type': ok ? 'text/plain' : 'application/json', 'Transfer-Encoding': 'chunked' });
      if (!ok) {
        const chunks: Buffer[] = [];
        up.on('data', (d: Buffer) => chunks.push(d));
        up.on('end', () => {
          let message = Buffer.concat(chunks).toString('utf8').slice(0, 2000);
          try { message = JSON.parse(message).message ?? message; } catch { /* plain text */ }
          res.end(JSON.stringify(toStatus(up.statusCode === 404 ? new ApiError('NotFound', message) : errors.badRequest(message))));
          resolve();
        });
        return;
      }
      up.pipe(res);
      up.on('end', () => resolve());
      up.on('error', () => { res.end(); resolve(); });
    });
    res.on('close', () => req.destroy());
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => {
      if (!res.headersSent) res.writeHead(400, { 'Content-Type': 'application/json' });
      // the kubelet being unreachable is reported like upstream's proxy errors, as a client-visible Status
      res.end(JSON.stringify(toStatus(errors.badRequest(`error dialing backend: ${err.message}`))));
      resolve();
    });
    req.end();
  });
}

function writeStatus(socket: Duplex, err: unknown): void {
  const s = toStatus(err);
  const body = JSON.stringify(s);
  socket.end(`HTTP/1.1 ${s.code} ${s.reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/**
 * Relays an upgrade (exec, attach, portforward) to the kubelet: WebSocket or SPDY/3.1 requests are repeated with
 * their method and headers, then the 101 and every byte pass through; SPDY-in-WebSocket goes through the tunnel.
 */
export function proxyUpgrade(target: Target, cfg: KubeletClientConfig, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const tunnelled = tunnelledSpdyProtocols(req);
  if (tunnelled.length) {
    tunnelSpdyOverWebSocket(target, cfg, req, socket, head, tunnelled);
    return;
  }
  const method = req.method === 'POST' ? 'POST' : 'GET';
  const up = tls.connect({ host: target.host, port: target.port, cert: cfg.cert, key: cfg.key, ca: cfg.ca, rejectUnauthorized: Boolean(cfg.ca), servername: /^[\d.]+$/.test(target.host) ? undefined : target.host });
  let connected = false;
  up.once('secureConnect', () => {
    connected = true;
    const hop = new Set(['host', 'authorization', 'connection', 'upgrade', 'content-length']);
    const lines = [`${method} ${target.path} HTTP/1.1`, `Host: ${target.host}:${target.port}`, 'Connection: Upgrade', `Upgrade: ${req.headers.upgrade ?? 'websocket'}`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const k = req.rawHeaders[i]!;
      if (!hop.has(k.toLowerCase())) lines.push(`${k}: ${req.rawHeaders[i + 1]}`);
    }
    up.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length) up.write(head);
    up.pipe(socket);
    socket.pipe(up);
  });
  up.on('error', (err) => {
    if (!connected) writeStatus(socket, errors.badRequest(`error dialing backend: ${err.message}`));
    else socket.destroy();
  });
  socket.on('error', () => up.destroy());
  socket.on('close', () => up.destroy());
  up.on('close', () => socket.destroy());
}

export { writeStatus };
