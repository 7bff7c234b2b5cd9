// The kubelet server (:10250, HTTPS): /healthz, /pods, /metrics, container logs, and exec, attach and
// port-forward over WebSocket or SPDY/3.1. Streams are relayed to the runtime's streaming server (the URL CRI
// Exec/Attach/PortForward returns); v5.channel.k8s.io clients are served over a v4 upstream, and SPDY upgrades
// (kubectl port-forward) are piped byte for byte (spdy-relay.ts).
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import WebSocket, { WebSocketServer } from 'ws';
import type { Kubelet } from './kubelet.ts';
import { followLog, readLog } from './logs.ts';
import type { RuntimeContainer } from './runtime-state.ts';
import { isSpdyUpgrade, RelayError, relaySpdyUpgrade } from './spdy-relay.ts';

export interface KubeletServerOptions {
  kubelet: Kubelet;
  port: number;
  address?: string;
  /** PEM serving cert and key; plain HTTP when absent (tests only). */
  tls?: { cert: string; key: string; ca?: string };
  /** Registry to expose on /metrics (e.g. the one RuntimeOperationMetrics records into); a new one if absent. */
  registry?: Registry;
}

const STREAM_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v4.base64.channel.k8s.io', 'channel.k8s.io', 'base64.channel.k8s.io'];
const PORT_FORWARD_PROTOCOLS = ['portforward.k8s.io', 'v4.channel.k8s.io', 'v4.base64.channel.k8s.io', 'channel.k8s.io'];

class HttpError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

function statusBody(code: number, message: string) {
  const reason = code === 404 ? 'NotFound' : code === 400 ? 'BadRequest' : 'InternalError';
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

export class KubeletServer {
  readonly app: FastifyInstance;
  private readonly kubelet: Kubelet;
  private readonly wss = new WebSocketServer({ noServer: true, handleProtocols: (_p, req) => (req as IncomingMessage & { kts?: string }).kts ?? false });
  private readonly registry: Registry;
  private readonly opts: KubeletServerOptions;

  constructor(opts: KubeletServerOptions) {
    this.opts = opts;
    this.kubelet = opts.kubelet;
    this.registry = opts.registry ?? new Registry();
    this.app = Fastify({
      logger: false,
      ...(opts.tls ? { https: { cert: opts.tls.cert, key: opts.tls.key, ...(opts.tls.ca ? { ca: opts.tls.ca, requestCert: true, rejectUnauthorized: false } : {}) } } : {}),
    } as never) as unknown as FastifyInstance;
    this.metrics();
    this.routes();
    this.app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.upgrade(req, socket, head).catch((err: Error & { code?: number }) => {
        const code = err instanceof HttpError ? err.code : 500;
        const body = JSON.stringify(statusBody(code, err.message));
        socket.end(`HTTP/1.1 ${code} ${code === 404 ? 'Not Found' : code === 400 ? 'Bad Request' : 'Internal Server Error'}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      });
    });
  }

  async listen(): Promise<number> {
    await this.app.listen({ port: this.opts.port, host: this.opts.address ?? '0.0.0.0' });
    return (this.app.server.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    await this.app.close();
  }

  private metrics(): void {
    collectDefaultMetrics({ register: this.registry, prefix: 'kubelet_process_' });
    const kubelet = this.kubelet;
    new Gauge({ name: 'kubelet_running_pods', help: 'Number of pods that have a running pod sandbox', registers: [this.registry],
      collect() { this.set([...kubelet.pleg.pods.values()].filter((p) => p.sandboxes.some((s) => s.state === 'SANDBOX_READY')).length); } });
    new Gauge({ name: 'kubelet_running_containers', help: 'Number of containers currently running', registers: [this.registry],
      collect() { this.set([...kubelet.pleg.pods.values()].reduce((n, p) => n + p.containers.filter((c) => c.state === 'CONTAINER_RUNNING').length, 0)); } });
    new Gauge({ name: 'kubelet_pleg_last_seen_seconds', help: 'Timestamp of the last successful PLEG relist', registers: [this.registry],
      collect() { this.set(kubelet.pleg.lastRelistOkMs / 1000); } });
  }

  private async container(ns: string, podName: string, name: string, previous: boolean): Promise<RuntimeContainer> {
    const pod = this.kubelet.findPod(ns, podName);
    if (!pod) throw new HttpError(404, `pod "${podName}" not found in namespace "${ns}" on this node`);
    const spec = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].find((c) => c.name === name);
    if (!spec) throw new HttpError(400, `container ${name} is not valid for pod ${podName}`);
    const rt = await this.kubelet.inspectPod(pod.metadata!.uid!);
    const inst = rt.containers.filter((c) => c.name === name);
    const c = previous ? inst[1] : inst[0];
    if (!c) {
      throw new HttpError(400, previous ? `previous terminated container "${name}" in pod "${podName}" not found`
        : `container "${name}" in pod "${podName}" is waiting to start: ContainerCreating`);
    }
    return c;
  }

  private routes(): void {
    const app = this.app;
    const fail = (reply: FastifyReply, err: unknown) => {
      const code = err instanceof HttpError ? err.code : 500;
      return reply.code(code).send(statusBody(code, (err as Error).message));
    };
    app.get('/healthz', async (_req, reply) => {
      const pleg = this.kubelet.pleg;
      const stale = pleg.lastRelistOkMs > 0 && Date.now() - pleg.lastRelistOkMs > 3 * 60_000;
      return reply.code(stale ? 500 : 200).type('text/plain').send(stale ? `PLEG is not healthy: ${pleg.lastError}` : 'ok');
    });
    app.get('/pods', async () => ({
      kind: 'PodList', apiVersion: 'v1', metadata: {},
      items: [...this.kubelet.desired.values()].map((p) => ({ ...p, status: this.kubelet.statusManager.last(p.metadata?.uid ?? '') ?? p.status })),
    }));
    app.get('/metrics', async (_req, reply) => reply.type(this.registry.contentType).send(await this.registry.metrics()));
    app.get<{ Params: { ns: string; pod: string; container: string }; Querystring: Record<string, string> }>(
      '/containerLogs/:ns/:pod/:container', async (req, reply) => {
        const q = req.query;
        const truthy = (v: string | undefined) => v === 'true' || v === '1';
        let c: RuntimeContainer;
        try {
          c = await this.container(req.params.ns, req.params.pod, req.params.container, truthy(q.previous));
        } catch (err) {
          return fail(reply, err);
        }
        const opts = {
          timestamps: truthy(q.timestamps),
          tailLines: q.tailLines !== undefined ? Number(q.tailLines) : undefined,
          limitBytes: q.limitBytes !== undefined ? Number(q.limitBytes) : undefined,
          sinceMs: q.sinceSeconds !== undefined ? Date.now() - Number(q.sinceSeconds) * 1000 : q.sinceTime ? Date.parse(q.sinceTime) : undefined,
        };
        if ([opts.tailLines, opts.limitBytes].some((n) => n !== undefined && (!Number.isFinite(n) || n < 0))) {
          return fail(reply, new HttpError(400, 'tailLines and limitBytes must be non-negative integers'));
        }
        let initial: { text: string; offset: number };
        try {
          initial = await readLog(c.logPath, opts);
        } catch (err) {
          return fail(reply, new HttpError(404, `failed to read log file ${c.logPath}: ${(err as Error).message}`));
        }
        if (!truthy(q.follow) || c.state !== 'CONTAINER_RUNNING') return reply.type('text/plain').send(initial.text);
        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' });
        res.write(initial.text);
        const abort = new AbortController();
        req.raw.on('close', () => abort.abort());
        const podUid = this.kubelet.findPod(req.params.ns, req.params.pod)?.metadata?.uid ?? '';
        const running = async () => (await this.kubelet.inspectPod(podUid)).containers.some((x) => x.id === c.id && x.state === 'CONTAINER_RUNNING');
        await followLog(c.logPath, initial.offset, opts, (chunk) => res.write(chunk), running, abort.signal).catch(() => {});
        res.end();
      });
  }

  /** exec/attach/portForward: resolve the target, ask CRI for a stream URL, then relay WebSocket frames or SPDY bytes. */
  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://kubelet');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const verb = parts[0];
    const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    const q = url.searchParams;
    const flag = (k: string) => q.get(k) === 'true' || q.get(k) === '1';
    let upstreamUrl: string;
    let known: string[];
    if (verb === 'exec' || verb === 'attach') {
      // /exec/{ns}/{pod}/{container} or /exec/{ns}/{pod}/{uid}/{container}
      const [ns, podName] = [parts[1], parts[2]];
      const name = parts.length >= 5 ? parts[4] : parts[3];
      if (!ns || !podName || !name) throw new HttpError(400, `expected /${verb}/{namespace}/{pod}/{container}`);
      const c = await this.container(ns, podName, name, false);
      if (c.state !== 'CONTAINER_RUNNING') throw new HttpError(400, `container ${name} is not running`);
      const streams = { stdin: flag('stdin'), stdout: flag('stdout') || flag('output'), stderr: flag('stderr') || flag('error'), tty: flag('tty') };
      if (verb === 'exec') {
        const cmd = q.getAll('command');
        if (!cmd.length) throw new HttpError(400, 'you must specify at least one command for the container');
        upstreamUrl = await this.kubelet.runtime.exec({ container_id: c.id, cmd, ...streams, stderr: streams.stderr && !streams.tty });
      } else {
        upstreamUrl = await this.kubelet.runtime.attach({ container_id: c.id, ...streams, stderr: streams.stderr && !streams.tty });
      }
      known = STREAM_PROTOCOLS;
    } else if (verb === 'portForward') {
      const [ns, podName] = [parts[1], parts[2]];
      const pod = ns && podName ? this.kubelet.findPod(ns, podName) : undefined;
      if (!pod) throw new HttpError(404, `pod "${podName}" not found in namespace "${ns}" on this node`);
      const rt = await this.kubelet.inspectPod(pod.metadata!.uid!);
      const sandbox = rt.sandboxes.find((s) => s.state === 'SANDBOX_READY');
      if (!sandbox) throw new HttpError(400, `pod ${podName} has no running sandbox`);
      const ports = q.getAll('ports').flatMap((p) => p.split(',')).map(Number).filter((n) => n > 0 && n < 65536);
      upstreamUrl = await this.kubelet.runtime.portForward(sandbox.id, ports);
      if (ports.length) upstreamUrl += `${upstreamUrl.includes('?') ? '&' : '?'}${ports.map((p) => `port=${p}`).join('&')}`;
      known = PORT_FORWARD_PROTOCOLS;
    } else {
      throw new HttpError(404, `no streaming endpoint ${url.pathname}`);
    }
    if (isSpdyUpgrade(req)) {
      try {
        await relaySpdyUpgrade(req, socket, head, upstreamUrl);
      } catch (err) {
        throw err instanceof RelayError ? new HttpError(502, err.message) : err;
      }
      return;
    }
    const clientProtocols = offered.filter((p) => known.includes(p));
    // The runtime speaks v4 at most; a v5 client is relayed over v4 (v5 only adds the close-stream signal).
    const upstreamProtocols = [...new Set(clientProtocols.map((p) => (p === 'v5.channel.k8s.io' ? 'v4.channel.k8s.io' : p)))];
    const upstream = new WebSocket(upstreamUrl.replace(/^http/, 'ws'), upstreamProtocols.length ? upstreamProtocols : undefined);
    // The runtime may speak first (port-forward announces its ports at once): hold its frames until the client is up.
    const early: { data: Buffer; isBinary: boolean }[] = [];
    let toClient: ((data: Buffer, isBinary: boolean) => void) | undefined;
    upstream.on('message', (data: Buffer, isBinary) => (toClient ? toClient(data, isBinary) : early.push({ data, isBinary })));
    await new Promise<void>((resolve, reject) => {
      upstream.once('open', () => resolve());
      upstream.once('unexpected-response', (_r, res) => reject(new HttpError(502, `runtime stream server answered ${res.statusCode}`)));
      upstream.once('error', reject);
    });
    const chosen = upstream.protocol;
    const clientChoice = chosen === 'v4.channel.k8s.io' && clientProtocols.includes('v5.channel.k8s.io') ? 'v5.channel.k8s.io' : chosen;
    (req as IncomingMessage & { kts?: string }).kts = clientChoice || undefined;
    this.wss.handleUpgrade(req, socket, head, (client) => {
      const v5 = clientChoice === 'v5.channel.k8s.io';
      client.on('message', (data: Buffer, isBinary) => {
        // v5 close signal (channel 255): the v4 runtime has no equivalent; closing stdin ends with the session.
        if (v5 && isBinary && data[0] === 255) return;
        if (upstream.readyState === WebSocket.OPEN) upstream.send(data, { binary: isBinary });
      });
      toClient = (data, isBinary) => {
        if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
      };
      for (const m of early.splice(0)) toClient(m.data, m.isBinary);
      const closeBoth = () => {
        if (client.readyState === WebSocket.OPEN) client.close(1000);
        if (upstream.readyState === WebSocket.OPEN) upstream.close(1000);
      };
      client.on('close', closeBoth);
      upstream.on('close', closeBoth);
      client.on('error', closeBoth);
      upstream.on('error', closeBoth);
    });
  }
}
