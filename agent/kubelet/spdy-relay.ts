// SPDY/3.1 upgrades (kubectl port-forward, and the SPDY fallbacks of exec and attach) are relayed to the
// runtime's streaming server without looking inside: the kubelet repeats the upgrade request against the URL
// that CRI PortForward/Exec/Attach returned and, once the runtime answers 101, pipes the two sockets byte for
// byte. The SPDY session (stream pairs, headers, pings) is between the client and the runtime.
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

export const SPDY_31 = 'SPDY/3.1';

export function isSpdyUpgrade(req: IncomingMessage): boolean {
  return String(req.headers.upgrade ?? '').trim().toLowerCase() === SPDY_31.toLowerCase();
}

/** Every X-Stream-Protocol-Version value the client sent, one per header line, as the runtime's handshake reads them. */
export function streamProtocols(req: IncomingMessage): string[] {
  const out: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() !== 'x-stream-protocol-version') continue;
    for (const v of req.rawHeaders[i + 1]!.split(',')) if (v.trim()) out.push(v.trim());
  }
  return out;
}

/** The response head as it goes back on the wire (raw header names and repeated lines kept). */
export function responseHead(res: IncomingMessage, opts: { drop?: RegExp; extra?: string[] } = {}): string {
  const lines = [`HTTP/1.1 ${res.statusCode} ${res.statusMessage ?? ''}`.trimEnd()];
  for (let i = 0; i < res.rawHeaders.length; i += 2) {
    if (!opts.drop?.test(res.rawHeaders[i]!)) lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
  }
  return `${[...lines, ...(opts.extra ?? [])].join('\r\n')}\r\n\r\n`;
}

export class RelayError extends Error {}

/**
 * Repeats the SPDY upgrade `req` against `upstreamUrl` and joins `socket` to the runtime's connection.
 * Resolves once the runtime has answered (101 and piped, or its refusal passed on to the client); rejects
 * with a RelayError when the runtime cannot be reached, before anything was written to `socket`.
 */
export function relaySpdyUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, upstreamUrl: string, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const url = new URL(upstreamUrl);
    const headers: Record<string, string | string[]> = { Connection: 'Upgrade', Upgrade: SPDY_31 };
    const protocols = streamProtocols(req);
    if (protocols.length) headers['X-Stream-Protocol-Version'] = protocols;
    const client = url.protocol === 'https:' ? https : http;
    // Streaming servers accept GET and POST; keep the client's method (kubectl uses POST).
    const up = client.request(url, { method: req.method === 'GET' ? 'GET' : 'POST', headers, agent: false, timeout: timeoutMs,
      ...(url.protocol === 'https:' ? { rejectUnauthorized: false } : {}) });
    let answered = false;
    const clientGone = () => up.destroy();
    socket.once('close', clientGone);
    up.on('upgrade', (res: IncomingMessage, upSocket: Duplex, upHead: Buffer) => {
      answered = true;
      socket.off('close', clientGone);
      up.setTimeout(0);
      (upSocket as Duplex & { setTimeout?: (ms: number) => void }).setTimeout?.(0);
      socket.write(responseHead(res));
      if (upHead.length) socket.write(upHead);
      if (head.length) upSocket.write(head);
      upSocket.pipe(socket);
      socket.pipe(upSocket);
      const closeBoth = () => { socket.destroy(); upSocket.destroy(); };
      upSocket.on('error', closeBoth);
      socket.on('error', closeBoth);
      upSocket.on('close', closeBoth);
      socket.on('close', closeBoth);
      resolve();
    });
    up.on('response', (res: IncomingMessage) => {
      // The runtime refused (unknown token, protocol mismatch): pass its answer on, as the upstream kubelet's proxy does.
      answered = true;
      socket.off('close', clientGone);
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('error', () => socket.destroy());
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const headText = responseHead(res, { drop: /^(content-length|transfer-encoding|connection)$/i, extra: [`Content-Length: ${body.length}`, 'Connection: close'] });
        socket.end(Buffer.concat([Buffer.from(headText), body]));
        resolve();
      });
    });
    up.on('timeout', () => up.destroy(new Error(`no answer from the runtime streaming server within ${timeoutMs} ms`)));
    up.on('error', (err) => {
      if (answered) return;
      socket.off('close', clientGone);
      reject(new RelayError(`runtime streaming server ${url.host}: ${err.message}`));
    });
    up.end();
  });
}
