// The apiserver's SPDY-in-WebSocket tunnel against a stand-in kubelet on loopback. The client is a hand-rolled
// WebSocket (ws refuses to offer `SPDY/3.1+...`, which is not an RFC 7230 token; kubectl's gorilla client does).
import t from 'tap';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createCA, createServingCert } from '../../../control/pki/index.ts';
import { proxyUpgrade } from '../../../control/apiserver/http/kubelet-proxy.ts';
import { tunnelledSpdyProtocols } from '../../../control/apiserver/http/spdy-tunnel.ts';
import { until } from '../../support/until.ts';

/** A masked client frame (FIN set). */
function clientFrame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, 0x80 | len]) : Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 0xff]);
  const body = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
  return Buffer.concat([head, mask, body]);
}

/** Unmasked server frames out of a byte buffer; returns the frames and the unread rest. */
function serverFrames(buf: Buffer): { frames: { opcode: number; payload: Buffer }[]; rest: Buffer } {
  const frames: { opcode: number; payload: Buffer }[] = [];
  let off = 0;
  for (;;) {
    if (buf.length - off < 2) break;
    let len = buf[off + 1]! & 0x7f;
    let hdr = 2;
    if (len === 126) { if (buf.length - off < 4) break; len = buf.readUInt16BE(off + 2); hdr = 4; }
    if (len === 127) { if (buf.length - off < 10) break; len = Number(buf.readBigUInt64BE(off + 2)); hdr = 10; }
    if (buf.length - off < hdr + len) break;
    frames.push({ opcode: buf[off]! & 0x0f, payload: buf.subarray(off + hdr, off + hdr + len) });
    off += hdr + len;
  }
  return { frames, rest: buf.subarray(off) };
}

interface WsClient { head: string; status: number; body: () => Buffer; messages: { opcode: number; payload: Buffer }[]; socket: net.Socket }

/** Opens a WebSocket to `port` offering `protocols`; resolves with the response head and a live frame reader. */
function wsConnect(port: number, path: string, protocols: string[], extra: Record<string, string> = {}): Promise<WsClient> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let client: WsClient | undefined;
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!client) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString();
        buf = buf.subarray(end + 4);
        client = { head, status: Number(head.split(' ')[1]), body: () => buf, messages: [], socket };
        resolve(client);
      }
      if (client.status === 101) {
        const { frames, rest } = serverFrames(buf);
        client.messages.push(...frames);
        buf = Buffer.from(rest);
      }
    });
    socket.on('error', reject);
    const lines = [`GET ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Connection: Upgrade', 'Upgrade: websocket',
      'Sec-WebSocket-Version: 13', `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
      `Sec-WebSocket-Protocol: ${protocols.join(', ')}`, ...Object.entries(extra).map(([k, v]) => `${k}: ${v}`)];
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  });
}

const ca = await createCA('tunnel-test-ca');
const serving = await createServingCert(ca, { commonName: 'kubelet', ips: ['127.0.0.1'] });

// Stand-in kubelet: answers SPDY upgrades with 101, speaks first ("hello"), then echoes upper-cased.
interface Seen { method: string; url: string; rawHeaders: string[]; closed: boolean }
const seen: Seen[] = [];
const kubelet = https.createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', status: 'Failure', message: `pod not found for ${req.url}`, code: 404 }));
});
kubelet.on('upgrade', (req: http.IncomingMessage, socket: Duplex) => {
  const s: Seen = { method: req.method!, url: req.url!, rawHeaders: req.rawHeaders, closed: false };
  seen.push(s);
  socket.on('close', () => { s.closed = true; });
  if (req.url!.includes('/missing/')) {
    const body = JSON.stringify({ kind: 'Status', status: 'Failure', message: 'pod "missing" not found', code: 404 });
    socket.end(`HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    return;
  }
  socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: portforward.k8s.io\r\n\r\nhello');
  socket.on('data', (d: Buffer) => socket.write(d.toString().toUpperCase()));
});
// Upgraded sockets are not closed by closeAllConnections(): every connection is tracked and destroyed in teardown.
const sockets = new Set<net.Socket>();
kubelet.on('connection', (c: net.Socket) => { sockets.add(c); c.on('close', () => sockets.delete(c)); });
await new Promise<void>((r) => kubelet.listen(0, '127.0.0.1', r));
const kubeletPort = (kubelet.address() as AddressInfo).port;

// Front: what the apiserver does after authorizing and resolving the pod.
const front = http.createServer((_req, res) => res.end());
front.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
  const port = req.url!.includes('/down/') ? closedPort : kubeletPort;
  proxyUpgrade({ host: '127.0.0.1', port, path: req.url!.replace('/api/v1/namespaces/default/pods', '/portForward/default') },
    { ca: ca.certPem }, req, socket, head);
});
front.on('connection', (c: net.Socket) => { sockets.add(c); c.on('close', () => sockets.delete(c)); });
await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
const frontPort = (front.address() as AddressInfo).port;
const closedPort = await new Promise<number>((r) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as AddressInfo).port; s.close(() => r(p)); });
});
t.teardown(() => new Promise<void>((r) => {
  for (const c of sockets) c.destroy();
  kubelet.closeAllConnections(); front.closeAllConnections();
  kubelet.close(() => front.close(() => r()));
}));

t.test('tunnelledSpdyProtocols picks SPDY/3.1+ Kubernetes protocols from WebSocket requests only', async (t) => {
  const req = (headers: Record<string, string>) => ({ headers } as unknown as http.IncomingMessage);
  t.same(tunnelledSpdyProtocols(req({ upgrade: 'websocket', 'sec-websocket-protocol': 'SPDY/3.1+portforward.k8s.io, v4.channel.k8s.io' })), ['portforward.k8s.io']);
  t.same(tunnelledSpdyProtocols(req({ upgrade: 'websocket', 'sec-websocket-protocol': 'v5.channel.k8s.io' })), []);
  t.same(tunnelledSpdyProtocols(req({ upgrade: 'websocket', 'sec-websocket-protocol': 'SPDY/3.1+something.else' })), []);
  t.same(tunnelledSpdyProtocols(req({ upgrade: 'SPDY/3.1', 'sec-websocket-protocol': 'SPDY/3.1+portforward.k8s.io' })), []);
});

t.test('SPDY in WebSocket becomes a SPDY upgrade to the kubelet, then a byte tunnel both ways', async (t) => {
  const c = await wsConnect(frontPort, '/api/v1/namespaces/default/pods/web/portforward', ['SPDY/3.1+portforward.k8s.io', 'SPDY/3.1+v2.portforward.k8s.io'],
    { Authorization: 'Bearer secret' });
  t.equal(c.status, 101, c.head);
  t.match(c.head, /\r\nSec-WebSocket-Protocol: SPDY\/3\.1\+portforward\.k8s\.io(\r\n|$)/, 'the kubelet\'s protocol, tunnel prefix added');
  const s = seen.at(-1)!;
  t.equal(s.method, 'POST');
  t.equal(s.url, '/portForward/default/web/portforward');
  const header = (name: string) => s.rawHeaders.filter((_v, i) => i % 2 === 1 && s.rawHeaders[i - 1]!.toLowerCase() === name);
  t.same(header('upgrade'), ['SPDY/3.1']);
  t.same(header('x-stream-protocol-version'), ['portforward.k8s.io', 'v2.portforward.k8s.io'], 'one header line per protocol, prefix removed');
  t.same(header('authorization'), [], 'client credentials stay at the apiserver');
  t.same(header('sec-websocket-protocol'), []);

  const hello = await until('the kubelet\'s first bytes', () => c.messages.find((m) => m.payload.toString() === 'hello'));
  t.equal(hello.opcode, 2, 'as a binary message');
  c.socket.write(clientFrame(2, Buffer.from('abc')));
  c.socket.write(clientFrame(2, Buffer.alloc(300, 'x')));
  const echoed = await until('echo through the tunnel', () => {
    const all = Buffer.concat(c.messages.filter((m) => m.opcode === 2).map((m) => m.payload)).toString();
    return all.length >= 'helloABC'.length + 300 && all;
  });
  t.equal(echoed, `helloABC${'X'.repeat(300)}`);
  t.ok(c.messages.every((m) => m.opcode === 2), 'only binary messages');

  c.socket.write(clientFrame(8, Buffer.from([0x03, 0xe8])));
  await until('kubelet side closed after the WebSocket closed', () => s.closed);
  t.ok(s.closed);
  c.socket.destroy();
});

t.test('a kubelet refusal is the answer to the WebSocket request', async (t) => {
  const c = await wsConnect(frontPort, '/api/v1/namespaces/default/pods/missing/portforward', ['SPDY/3.1+portforward.k8s.io']);
  t.equal(c.status, 404);
  await until('body', () => c.body().length > 0 && c.body().toString().endsWith('}'));
  t.match(JSON.parse(c.body().toString()), { message: 'pod "missing" not found' });
  c.socket.destroy();
});

t.test('an unreachable kubelet gives a Status naming the dial error', async (t) => {
  const c = await wsConnect(frontPort, '/api/v1/namespaces/default/pods/down/portforward', ['SPDY/3.1+portforward.k8s.io']);
  t.equal(c.status, 400);
  await until('body', () => c.body().toString().endsWith('}'));
  t.match(JSON.parse(c.body().toString()), { kind: 'Status', reason: 'BadRequest', message: /error dialing backend: .*ECONNREFUSED/ });
  c.socket.destroy();
});

t.test('a direct SPDY upgrade (POST) is relayed with its method and headers', async (t) => {
  const got = await new Promise<{ head: string; rest: string }>((resolve, reject) => {
    const socket = net.connect(frontPort, '127.0.0.1');
    let buf = '';
    socket.on('data', (d: Buffer) => {
      buf += d.toString();
      const end = buf.indexOf('\r\n\r\n');
      if (end >= 0 && buf.length >= end + 4 + 'helloPING'.length) { socket.destroy(); resolve({ head: buf.slice(0, end), rest: buf.slice(end + 4) }); }
      else if (end >= 0 && buf.length === end + 4 + 'hello'.length) socket.write('ping');
    });
    socket.on('error', reject);
    socket.write(['POST /api/v1/namespaces/default/pods/web/portforward HTTP/1.1', 'Host: x', 'Connection: Upgrade', 'Upgrade: SPDY/3.1',
      'X-Stream-Protocol-Version: portforward.k8s.io', 'Content-Length: 0', '', ''].join('\r\n'));
  });
  t.match(got.head, /^HTTP\/1\.1 101/);
  t.equal(got.rest, 'helloPING');
  t.equal(seen.at(-1)!.method, 'POST');
});
