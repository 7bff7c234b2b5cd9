// kubectl (1.30+) port-forward offers `SPDY/3.1+portforward.k8s.io` over WebSocket: a SPDY/3.1 session whose
// bytes ride in WebSocket binary messages, with no HTTP upgrade inside (client-go tunneling_dialer.go). As the
// upstream apiserver does (apiserver/pkg/util/proxy/streamtunnel.go), the apiserver turns the request into a
// plain SPDY upgrade to the kubelet (POST, Upgrade: SPDY/3.1, one X-Stream-Protocol-Version per offered
// protocol), and only after the kubelet's 101 accepts the WebSocket, naming `SPDY/3.1+<kubelet's protocol>`.
// From then on it is a byte tunnel: each binary message's payload goes to the kubelet socket and kubelet bytes
// go back as binary messages. Nothing here parses SPDY.
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { errors, toStatus } from '../../../api/errors.ts';

export const SPDY_TUNNEL_PREFIX = 'SPDY/3.1+';

export interface TunnelTarget { host: string; port: number; path: string }
export interface TunnelClientConfig { cert?: string | Buffer; key?: string | Buffer; ca?: string | Buffer }

/** The SPDY protocols a WebSocket request tunnels: `SPDY/3.1+<p>` entries for Kubernetes protocols, prefix removed. */
export function tunnelledSpdyProtocols(req: IncomingMessage): string[] {
  if (String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return [];
  return String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim())
    .filter((p) => p.startsWith(SPDY_TUNNEL_PREFIX) && p.endsWith('.k8s.io'))
    .map((p) => p.slice(SPDY_TUNNEL_PREFIX.length));
}

type TunnelRequest = IncomingMessage & { ktsTunnelProtocol?: string };

// `SPDY/3.1+...` is not an RFC 7230 token ('/' is not a tchar), so ws would refuse the handshake with 400: the
// header is swapped for a placeholder token before ws sees it, and the subprotocol decided from the kubelet's
// answer (stored on the request) is what ws writes back in the 101.
const PLACEHOLDER_PROTOCOL = 'kts.spdy-tunnel';
const wss = new WebSocketServer({
  noServer: true,
  perMessageDeflate: false,
  handleProtocols: (_offered, req) => (req as TunnelRequest).ktsTunnelProtocol ?? false,
});

function refuse(socket: Duplex, err: unknown): void {
  const s = toStatus(err);
  const body = JSON.stringify(s);
  socket.end(`HTTP/1.1 ${s.code} ${s.reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/** Headers of the client's request that travel on to the kubelet (not hop-by-hop, not WebSocket, not credentials). */
function forwardedHeaders(req: IncomingMessage): Record<string, string> {
  const skip = /^(host|authorization|connection|upgrade|content-length|sec-websocket-.*|x-stream-protocol-version|impersonate-.*)$/i;
  const out: Record<string, string> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const k = req.rawHeaders[i]!;
    if (!skip.test(k)) out[k] = req.rawHeaders[i + 1]!;
  }
  return out;
}

/**
 * Serves one `SPDY/3.1+...` WebSocket request by tunnelling it to the kubelet's SPDY endpoint at `target`.
 * `protocols` are the SPDY protocols from tunnelledSpdyProtocols(req).
 */
export function tunnelSpdyOverWebSocket(target: TunnelTarget, cfg: TunnelClientConfig, req: IncomingMessage, socket: Duplex,
  head: Buffer, protocols: string[], timeoutMs = 30_000): void {
  const up = https.request({
    host: target.host, port: target.port, path: target.path, method: 'POST', agent: false, timeout: timeoutMs,
    cert: cfg.cert, key: cfg.key, ca: cfg.ca, rejectUnauthorized: Boolean(cfg.ca),
    servername: /^[\d.]+$|:/.test(target.host) ? undefined : target.host,
    headers: { ...forwardedHeaders(req), Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': protocols },
  });
  let answered = false;
  const clientGone = () => up.destroy();
  socket.once('close', clientGone);
  up.on('upgrade', (res: IncomingMessage, kubelet: Duplex, kubeletHead: Buffer) => {
    answered = true;
    socket.off('close', clientGone);
    (kubelet as Duplex & { setTimeout?: (ms: number) => void }).setTimeout?.(0);
    if (!/spdy\/3\.1/i.test(String(res.headers.upgrade ?? '')) || !/upgrade/i.test(String(res.headers.connection ?? ''))) {
      kubelet.destroy();
      refuse(socket, errors.internal('unable to upgrade: missing upgrade headers in the kubelet response'));
      return;
    }
    const chosen = String(res.headers['x-stream-protocol-version'] ?? '').trim();
    // As gorilla's Upgrader does, name a subprotocol only when the client offered it.
    (req as TunnelRequest).ktsTunnelProtocol = chosen && protocols.includes(chosen) ? SPDY_TUNNEL_PREFIX + chosen : undefined;
    req.headers['sec-websocket-protocol'] = PLACEHOLDER_PROTOCOL;
    wss.handleUpgrade(req, socket, head, (ws) => {
      // A stream over the WebSocket: writes become binary messages, messages are read as bytes, with backpressure.
      const tunnel = createWebSocketStream(ws);
      if (kubeletHead.length) tunnel.write(kubeletHead);
      kubelet.pipe(tunnel);
      tunnel.pipe(kubelet);
      const closeBoth = () => { tunnel.destroy(); kubelet.destroy(); };
      tunnel.on('error', closeBoth);
      kubelet.on('error', closeBoth);
      tunnel.on('close', closeBoth);
      kubelet.on('close', closeBoth);
    });
  });
  up.on('response', (res: IncomingMessage) => {
    // The kubelet refused (pod not found, no sandbox): its Status goes back as the answer to the WebSocket request.
    answered = true;
    socket.off('close', clientGone);
    const chunks: Buffer[] = [];
    res.on('data', (d: Buffer) => chunks.push(d));
    res.on('error', () => socket.destroy());
    res.on('end', () => {
      const body = Buffer.concat(chunks);
      const type = String(res.headers['content-type'] ?? 'text/plain');
      socket.end(Buffer.concat([Buffer.from(`HTTP/1.1 ${res.statusCode} ${res.statusMessage ?? ''}\r\nContent-Type: ${type}\r\n` +
        `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`), body]));
    });
  });
  up.on('timeout', () => up.destroy(new Error('timeout')));
  up.on('error', (err) => {
    if (answered) return;
    socket.off('close', clientGone);
    refuse(socket, errors.badRequest(`error dialing backend: ${err.message}`));
  });
  up.end();
}
