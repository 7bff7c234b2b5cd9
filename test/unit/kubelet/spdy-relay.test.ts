// The kubelet's SPDY relay against a stand-in runtime streaming server on loopback: the upgrade is repeated
// against the CRI URL, the runtime's 101 comes back as it was sent, and bytes flow both ways untouched.
import t from 'tap';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { isSpdyUpgrade, RelayError, relaySpdyUpgrade, streamProtocols } from '../../../agent/kubelet/spdy-relay.ts';
import { until } from '../../support/until.ts';

interface Seen { method: string; url: string; rawHeaders: string[]; closed: boolean }
const seen: Seen[] = [];
// Stand-in streaming server: /portforward/ok upgrades, speaks first and echoes upper-cased; anything else is a 404.
const runtime = http.createServer();
runtime.on('upgrade', (req: http.IncomingMessage, socket: Duplex) => {
  const s: Seen = { method: req.method!, url: req.url!, rawHeaders: req.rawHeaders, closed: false };
  seen.push(s);
  socket.on('close', () => { s.closed = true; });
  if (req.url !== '/portforward/ok') {
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nno token\r\n0\r\n\r\n');
    return;
  }
  socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: portforward.k8s.io\r\n\r\nhi');
  socket.on('data', (d: Buffer) => socket.write(d.toString().toUpperCase()));
  // Upgraded sockets of a node http server stay half-open on the peer's FIN; a runtime closes its side too.
  socket.on('end', () => socket.end());
});
// Upgraded sockets are not closed by closeAllConnections(): every connection is tracked and destroyed in teardown.
const sockets = new Set<net.Socket>();
runtime.on('connection', (c: net.Socket) => { sockets.add(c); c.on('close', () => sockets.delete(c)); });
await new Promise<void>((r) => runtime.listen(0, '127.0.0.1', r));
const runtimePort = (runtime.address() as AddressInfo).port;
const closedPort = await new Promise<number>((r) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as AddressInfo).port; s.close(() => r(p)); });
});

// Front: the kubelet's upgrade handler after it asked CRI for the URL (the path names the URL to use here).
const outcomes: string[] = [];
const kubelet = http.createServer();
kubelet.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
  const target = req.url === '/down' ? `http://127.0.0.1:${closedPort}/portforward/x` : `http://127.0.0.1:${runtimePort}/portforward${req.url}`;
  relaySpdyUpgrade(req, socket, head, target).then(() => outcomes.push('relayed'), (err) => {
    outcomes.push(err instanceof RelayError ? `RelayError: ${err.message}` : `other: ${err}`);
    socket.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n');
  });
});
kubelet.on('connection', (c: net.Socket) => { sockets.add(c); c.on('close', () => sockets.delete(c)); });
await new Promise<void>((r) => kubelet.listen(0, '127.0.0.1', r));
const kubeletPort = (kubelet.address() as AddressInfo).port;
t.teardown(() => new Promise<void>((r) => {
  for (const c of sockets) c.destroy();
  runtime.closeAllConnections(); kubelet.closeAllConnections();
  runtime.close(() => kubelet.close(() => r()));
}));

/** Sends a SPDY upgrade request (and `early` bytes right behind it); collects everything that comes back. */
function upgrade(path: string, early = '') {
  const socket = net.connect(kubeletPort, '127.0.0.1');
  let text = '';
  socket.on('data', (d: Buffer) => { text += d.toString(); });
  socket.write(['POST ' + path + ' HTTP/1.1', 'Host: kubelet', 'Connection: Upgrade', 'Upgrade: SPDY/3.1',
    'X-Stream-Protocol-Version: portforward.k8s.io', 'X-Stream-Protocol-Version: v2.portforward.k8s.io', 'Content-Length: 0', '', ''].join('\r\n') + early);
  return { socket, text: () => text };
}

t.test('header helpers', async (t) => {
  const req = (headers: Record<string, string>, rawHeaders: string[]) => ({ headers, rawHeaders } as unknown as http.IncomingMessage);
  t.ok(isSpdyUpgrade(req({ upgrade: 'spdy/3.1' }, [])));
  t.notOk(isSpdyUpgrade(req({ upgrade: 'websocket' }, [])));
  t.same(streamProtocols(req({}, ['X-Stream-Protocol-Version', 'v4.channel.k8s.io', 'Host', 'h', 'x-stream-protocol-version', 'v3.channel.k8s.io, channel.k8s.io'])),
    ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'channel.k8s.io']);
});

t.test('a SPDY upgrade is repeated against the runtime URL and piped both ways', async (t) => {
  const c = upgrade('/ok', 'early');
  const answer = await until('the runtime speaks first', () => c.text().includes('\r\n\r\nhi') && c.text());
  t.match(answer, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  t.match(answer, /\r\nX-Stream-Protocol-Version: portforward\.k8s\.io\r\n/, 'the runtime\'s choice reaches the client');
  const s = seen.at(-1)!;
  t.equal(s.method, 'POST');
  t.equal(s.url, '/portforward/ok');
  const header = (name: string) => s.rawHeaders.filter((_v, i) => i % 2 === 1 && s.rawHeaders[i - 1]!.toLowerCase() === name);
  t.same(header('x-stream-protocol-version'), ['portforward.k8s.io', 'v2.portforward.k8s.io'], 'one header line per protocol');
  t.same(header('upgrade'), ['SPDY/3.1']);
  await until('early bytes echoed', () => c.text().endsWith('hiEARLY'));
  c.socket.write('more');
  await until('later bytes echoed', () => c.text().endsWith('hiEARLYMORE'));
  t.ok(c.text().endsWith('hiEARLYMORE'));
  c.socket.destroy();
  await until('runtime side closed with the client', () => s.closed);
  t.ok(s.closed, 'runtime connection closed');
  t.equal(outcomes.at(-1), 'relayed');
});

t.test('a runtime refusal is passed on with its body', async (t) => {
  const c = upgrade('/expired');
  await until('answer', () => c.text().endsWith('no token'));
  t.match(c.text(), /^HTTP\/1\.1 404 Not Found\r\n/);
  t.match(c.text(), /\r\nContent-Length: 8\r\n/, 'the decoded body is sent with its length');
  t.notMatch(c.text(), /Transfer-Encoding/i);
  t.equal(outcomes.at(-1), 'relayed');
  c.socket.destroy();
});

t.test('an unreachable runtime rejects with RelayError before anything is written', async (t) => {
  const c = upgrade('/down');
  await until('answer', () => c.text().length > 0);
  t.match(c.text(), /^HTTP\/1\.1 502 /, 'the caller still owns the socket and answers');
  t.match(outcomes.at(-1), /^RelayError: runtime streaming server 127\.0\.0\.1:\d+: .*ECONNREFUSED/);
  c.socket.destroy();
});
