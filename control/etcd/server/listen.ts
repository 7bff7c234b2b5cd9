// One listener per client URL serving both gRPC (HTTP/2 with the client preface) and plain HTTP/1.1
// (/health, /metrics), the way etcd multiplexes its client port: peek at the first bytes, then hand the
// socket to grpc-js (connection injector) or to a node http server.
import net from 'node:net';
import http from 'node:http';
import type * as grpc from '@grpc/grpc-js';
import { ServerCredentials } from '@grpc/grpc-js';

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export interface Listener { url: string; port: number; close(): Promise<void> }

/** Parse http://host:port (https is refused until TLS flags are wired). */
export function parseUrl(u: string): { host: string; port: number } {
  let url: URL;
  try { url = new URL(u); } catch { throw new Error(`invalid URL "${u}"`); }
  if (url.protocol !== 'http:' && url.protocol !== 'unix:') throw new Error(`unsupported scheme in "${u}": only http:// is served (TLS flags are not implemented yet)`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return { host: host || '0.0.0.0', port: url.port ? Number(url.port) : 2379 };
}

export async function listenMux(url: string, grpcServer: grpc.Server, httpHandler: http.RequestListener): Promise<Listener> {
  const { host, port } = parseUrl(url);
  const injector = grpcServer.createConnectionInjector(ServerCredentials.createInsecure());
  const httpServer = http.createServer(httpHandler);
  const sockets = new Set<net.Socket>();
  // noDelay: small gRPC replies must not wait for Nagle + delayed ACK (tens of ms per request)
  const server = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const n = Math.min(head.length, H2_PREFACE.length);
      const isH2 = head.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      if (isH2 && head.length < H2_PREFACE.length) return; // need more bytes to decide
      socket.off('data', onData);
      socket.pause();
      socket.unshift(head);
      // both servers drain what is buffered on the socket (http2 reads it into the session) and resume it
      if (isH2) injector.injectConnection(socket);
      else { httpServer.emit('connection', socket); socket.resume(); }
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  const bound = (server.address() as net.AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    port: bound,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      injector.destroy();
      server.close(() => resolve());
    }),
  };
}
