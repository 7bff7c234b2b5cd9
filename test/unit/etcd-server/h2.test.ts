// The client port's HTTP/2: HPACK against RFC 7541's examples and a captured etcdctl request, then a
// connection against node's own HTTP/2 client (another implementation): flow control both ways, PING,
// many streams at once, a reset stream, and a bad preface.
import t from 'tap';
import net from 'node:net';
import http2 from 'node:http2';
import { HpackDecoder, encodeHeaders, huffmanDecode } from '../../../control/etcd/server/h2/hpack.ts';
import { H2Connection } from '../../../control/etcd/server/h2/connection.ts';
import type { H2Stream } from '../../../control/etcd/server/h2/connection.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex');

t.test('HPACK: RFC 7541 C.3 and C.4 request sequences share a dynamic table', async (t) => {
  for (const [name, blocks] of [
    ['C.3 (raw strings)', ['828684410f7777772e6578616d706c652e636f6d', '828684be58086e6f2d6361636865',
      '828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565']],
    ['C.4 (Huffman)', ['828684418cf1e3c2e5f23a6ba0ab90f4ff', '828684be5886a8eb10649cbf',
      '828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf']],
  ] as const) {
    const d = new HpackDecoder();
    t.same(d.decode(hex(blocks[0])), [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']], `${name} first`);
    t.same(d.decode(hex(blocks[1])), [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache']], `${name} second (indexed from the table)`);
    t.same(d.decode(hex(blocks[2])), [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']], `${name} third`);
  }
  t.throws(() => huffmanDecode(hex('ffffffff')), /EOS|padding|invalid/, 'EOS inside a string is refused');
  t.throws(() => new HpackDecoder().decode(hex('be')), /past the dynamic table/);
  t.throws(() => new HpackDecoder().decode(hex('3fe21f')), /exceeds/, 'a table size update above our limit');
});

t.test('HPACK: a table size update evicts, and entries too big for the table empty it', async (t) => {
  const d = new HpackDecoder();
  d.decode(hex('400a637573746f6d2d6b65790c637573746f6d2d76616c7565')); // custom-key: custom-value, indexed (62)
  t.same(d.decode(hex('be')), [['custom-key', 'custom-value']]);
  d.decode(hex('20')); // size 0: everything evicted
  t.throws(() => d.decode(hex('be')), /past the dynamic table/);
});

// etcdctl 3.4's first HEADERS frame for "endpoint status" (captured): :authority carries the scheme,
// Huffman-coded, "literal with incremental indexing"; node:http2 (nghttp2) resets such a stream
const CAPTURED = hex('0000770104000000018386459760a924882d9dcb6571afa066a925a87510ac6e48d36a3f41909d29aee30c044eae05c0b86e34db6e335f8b1d75d0620d263d4c4d65647a8b9acac8b4c7602bb2caecff40027465864d833505b11f40899acac8b24d494f6a7f860befb8e3e2b7408d25062d495875996ee5b1063d5f03332e34');

t.test('HPACK: a captured etcdctl request decodes, :authority with its scheme', async (t) => {
  const fields = Object.fromEntries(new HpackDecoder().decode(CAPTURED.subarray(9)));
  t.equal(fields[':authority'], 'http://127.0.0.1:45563');
  t.equal(fields[':path'], '/etcdserverpb.Maintenance/Status');
  t.equal(fields['content-type'], 'application/grpc');
});

t.test('HPACK: our encoding reads back, static-table matches as single bytes', async (t) => {
  const block = encodeHeaders({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '13', 'grpc-message': 'bad%20thing' });
  t.equal(block[0], 0x88, ':status 200 is static index 8');
  t.same(new HpackDecoder().decode(block), [[':status', '200'], ['content-type', 'application/grpc'], ['grpc-status', '13'], ['grpc-message', 'bad%20thing']]);
});

/** An H2Connection on a loopback port; handler gets each stream. */
async function serve(t: any, handler: (s: H2Stream) => void): Promise<string> {
  const conns: H2Connection[] = [];
  const server = net.createServer((socket) => conns.push(new H2Connection(socket, { onStream: handler })));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(async () => { for (const c of conns) c.destroy(); await new Promise((r) => server.close(r)); });
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

function connect(t: any, url: string, settings: http2.Settings = {}): http2.ClientHttp2Session {
  const session = http2.connect(url, { settings });
  session.on('error', () => {});
  t.teardown(() => session.destroy());
  return session;
}

function request(session: http2.ClientHttp2Session, body: Buffer, path = '/echo') {
  return new Promise<{ headers: http2.IncomingHttpHeaders; body: Buffer; trailers: http2.IncomingHttpHeaders }>((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': path });
    let headers: http2.IncomingHttpHeaders = {}, trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => { headers = h; });
    req.on('trailers', (h) => { trailers = h; });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve({ headers, body: Buffer.concat(chunks), trailers }));
    req.on('error', reject);
    req.end(body);
  });
}

/** Echoes the request body back (reversed by chunks arriving), then trailers. */
const echo = (s: H2Stream) => {
  const parts: Buffer[] = [];
  s.on('data', (d: Buffer) => parts.push(d));
  s.on('end', () => {
    s.respond({ ':status': 200 });
    s.write(Buffer.concat(parts));
    s.sendTrailers({ 'x-bytes': String(parts.reduce((n, p) => n + p.length, 0)) });
  });
};

t.test('flow control: bodies larger than either side\'s window get through whole', async (t) => {
  const url = await serve(t, echo);
  const body = Buffer.alloc(3 * 1024 * 1024 + 17);
  for (let i = 0; i < body.length; i++) body[i] = i % 251;
  // a client window much smaller than the response: the server must wait for WINDOW_UPDATEs
  const session = connect(t, url, { initialWindowSize: 1000 });
  const res = await request(session, body);
  t.equal(res.headers[':status'], 200);
  t.equal(res.trailers['x-bytes'], String(body.length));
  t.ok(res.body.equals(body), 'the response equals the request, byte for byte');
});

t.test('many streams at once on one connection, PING answered', async (t) => {
  const url = await serve(t, echo);
  const session = connect(t, url);
  const results = await Promise.all(Array.from({ length: 200 }, (_, i) => request(session, Buffer.from(`req ${i}`))));
  t.same(results.map((r) => r.body.toString()), Array.from({ length: 200 }, (_, i) => `req ${i}`));
  const rtt = await new Promise<number>((resolve, reject) => session.ping((err, ms) => (err ? reject(err) : resolve(ms))));
  t.ok(rtt >= 0, 'PING acknowledged');
});

t.test('a stream reset by the client is aborted; the connection goes on', async (t) => {
  let aborted: H2Stream | undefined;
  const url = await serve(t, (s) => {
    if (s.headers[':path'] === '/hang') { s.on('close', () => { aborted = s; }); return; }
    echo(s);
  });
  const session = connect(t, url);
  const req = session.request({ ':method': 'POST', ':path': '/hang' });
  req.on('error', () => {});
  req.write('x');
  await new Promise((r) => setTimeout(r, 50));
  req.close(http2.constants.NGHTTP2_CANCEL);
  for (let i = 0; i < 50 && !aborted; i++) await new Promise((r) => setTimeout(r, 10));
  t.equal(aborted?.aborted, true, 'the server stream saw the reset');
  t.equal((await request(session, Buffer.from('after'))).body.toString(), 'after');
});

t.test('a bad preface gets GOAWAY and the connection is closed', async (t) => {
  const url = new URL(await serve(t, echo));
  const sock = net.connect(Number(url.port), url.hostname);
  const got: Buffer[] = [];
  sock.on('data', (d) => got.push(d));
  sock.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise((r) => sock.on('close', r));
  const all = Buffer.concat(got);
  // our SETTINGS and WINDOW_UPDATE come first; the last frame is the GOAWAY
  let off = 0, lastType = -1, lastCode = -1;
  while (off + 9 <= all.length) {
    const len = all.readUIntBE(off, 3);
    lastType = all[off + 3];
    if (lastType === 7) lastCode = all.readUInt32BE(off + 13);
    off += 9 + len;
  }
  t.equal(lastType, 7, 'GOAWAY');
  t.equal(lastCode, 1, 'PROTOCOL_ERROR');
});
