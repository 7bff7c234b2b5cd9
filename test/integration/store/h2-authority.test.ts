// etcdctl's per-endpoint calls (endpoint status|hashkv, defrag, move-leader) send ":authority: http://host:port",
// which nghttp2 (inside node:http2, so grpc-js's server too) resets with PROTOCOL_ERROR. The client port's own
// HTTP/2 (control/etcd/server/h2/) takes any :authority. Here a real HTTP/2 client sends such requests to an
// in-process member, at once and after sitting idle, several on one connection (HPACK dynamic table in use).
import t from 'tap';
import http2 from 'node:http2';
import { startEtcd } from '../../../control/etcd/server/index.ts';

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
