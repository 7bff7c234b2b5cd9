// etcdctl's per-endpoint calls send ":authority: http://host:port", which nghttp2 (inside node:http2) refuses;
// kts etcd rewrites it on new connections (control/etcd/server/h2-authority.ts). The HPACK pieces first, then
// a real HTTP/2 client against an in-process member: the rewritten request and the next one on the same
// connection (which refers to the rewritten value through the HPACK dynamic table) both get answers.
import t from 'tap';
import http2 from 'node:http2';
import { huffmanDecode, rewriteHeaderBlock, rewriteHeadersFrame, saneAuthority } from '../../../control/etcd/server/h2-authority.ts';
import { startEtcd } from '../../../control/etcd/server/index.ts';

t.test('huffman decoding (RFC 7541 C.4 examples)', async (t) => {
  t.equal(huffmanDecode(Buffer.from('f1e3c2e5f23a6ba0ab90f4ff', 'hex')), 'www.example.com');
  t.equal(huffmanDecode(Buffer.from('25a849e95bb8e8b4bf', 'hex')), 'custom-value');
  t.equal(huffmanDecode(Buffer.from('ffffffff', 'hex')), undefined, 'EOS inside a string is refused');
});

t.test('saneAuthority keeps the length and removes the slashes', async (t) => {
  t.equal(saneAuthority('http://127.0.0.1:2379'), 'http:__127.0.0.1:2379');
  t.equal(saneAuthority('https://[::1]:2379'), 'https:__[::1]:2379');
  t.equal(saneAuthority('127.0.0.1:2379'), undefined);
});

// etcdctl 3.4's first HEADERS frame for "endpoint status" (captured): :authority is Huffman-coded,
// "literal with incremental indexing, indexed name 1"
const CAPTURED = Buffer.from('0000770104000000018386459760a924882d9dcb6571afa066a925a87510ac6e48d36a3f41909d29aee30c044eae05c0b86e34db6e335f8b1d75d0620d263d4c4d65647a8b9acac8b4c7602bb2caecff40027465864d833505b11f40899acac8b24d494f6a7f860befb8e3e2b7408d25062d495875996ee5b1063d5f03332e34', 'hex');

t.test('rewrite of a captured etcdctl HEADERS frame', async (t) => {
  const out = rewriteHeadersFrame(CAPTURED)!;
  t.ok(out, 'rewritten');
  t.equal(out.readUIntBE(0, 3), out.length - 9, 'frame length matches the payload');
  t.same([...out.subarray(3, 9)], [...CAPTURED.subarray(3, 9)], 'type, flags and stream unchanged');
  const authAt = CAPTURED.indexOf(Buffer.from('4190', 'hex'), 9);
  t.same(out.subarray(0 + 3, authAt), CAPTURED.subarray(3, authAt), 'fields before :authority unchanged');
  const lit = Buffer.from('http:__127.0.0.1:45563', 'latin1');
  t.same(out.subarray(authAt, authAt + 2 + lit.length), Buffer.concat([Buffer.from([0x41, lit.length]), lit]),
    'same representation, raw literal of the same length');
  t.same(out.subarray(authAt + 2 + lit.length), CAPTURED.subarray(authAt + 2 + 16), 'fields after :authority unchanged');
  t.equal(rewriteHeadersFrame(out), undefined, 'nothing left to rewrite');
});

t.test('padded frame with priority and a literal header name', async (t) => {
  const name = Buffer.from(':authority'), value = Buffer.from('http://h:1');
  // literal without indexing, new name; both strings raw
  const block = Buffer.concat([Buffer.from([0x82, 0x00, name.length]), name, Buffer.from([value.length]), value]);
  const priority = Buffer.from([0, 0, 0, 0, 15]);
  const payload = Buffer.concat([Buffer.from([3]), priority, block, Buffer.alloc(3)]);
  const head = Buffer.from([0, 0, payload.length, 0x1, 0x4 | 0x8 | 0x20, 0, 0, 0, 3]);
  const out = rewriteHeadersFrame(Buffer.concat([head, payload]))!;
  t.equal(out[4], 0x4 | 0x20, 'padding flag dropped, priority kept');
  t.same(out.subarray(9, 14), priority);
  t.equal(out.subarray(14).toString('latin1'), block.toString('latin1').replace('http://h:1', 'http:__h:1'));
  t.equal(rewriteHeaderBlock(Buffer.from([0x82, 0x84])), undefined, 'indexed fields only: unchanged');
  t.equal(rewriteHeaderBlock(Buffer.from([0x41, 0x85, 0x01])), undefined, 'truncated block: left alone');
});

function grpcCall(session: http2.ClientHttp2Session, authority: string, path: string): Promise<{ status: string | undefined; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = session.request({
      ':method': 'POST', ':path': path, ':authority': authority, ':scheme': 'http',
      'content-type': 'application/grpc', te: 'trailers',
    });
    const chunks: Buffer[] = [];
    let status: string | undefined;
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('trailers', (h) => { status = h['grpc-status'] as string; });
    req.on('end', () => resolve({ status, body: Buffer.concat(chunks) }));
    req.on('error', reject);
    req.end(Buffer.alloc(5)); // one empty message
  });
}

t.test('baseline: a plain node:http2 server refuses such a stream before its handler runs', async (t) => {
  const server = http2.createServer();
  let streams = 0;
  server.on('stream', (s) => { streams++; s.respond({ ':status': 200 }); s.end(); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const session = http2.connect(url);
  session.on('error', () => {});
  t.teardown(() => session.close());
  const req = session.request({ ':path': '/', ':authority': url });
  req.on('error', () => {});
  req.resume();
  req.end();
  await new Promise((r) => req.on('close', r));
  t.equal(req.rstCode, http2.constants.NGHTTP2_PROTOCOL_ERROR, 'reset with PROTOCOL_ERROR');
  t.equal(streams, 0, 'the server never saw the stream');
});

t.test('a real member answers requests whose :authority carries the scheme', async (t) => {
  const etcd = await startEtcd({ name: 'h2auth', dataDir: t.testdir(), listenClientUrls: ['http://127.0.0.1:0'] });
  t.teardown(() => etcd.stop());
  const url = etcd.clientUrls[0];
  for (const waitForSettings of [false, true]) {
    const session = http2.connect(url);
    session.on('error', () => {});
    t.teardown(() => session.close());
    // true: the client has acknowledged our SETTINGS and sits idle before its first request
    if (waitForSettings) await new Promise((r) => session.once('remoteSettings', r));
    for (const round of [1, 2, 3]) {
      const res = await grpcCall(session, url, '/etcdserverpb.Maintenance/Status');
      t.equal(res.status, '0', `Status call ${round} (${waitForSettings ? 'idle first' : 'at once'}) answered OK`);
      t.ok(res.body.length > 5, 'with a response message');
    }
    const hash = await grpcCall(session, url, '/etcdserverpb.Maintenance/HashKV');
    t.equal(hash.status, '0', 'HashKV on the same connection');
  }
});
