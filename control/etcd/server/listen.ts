// One listener per client URL serving both gRPC (HTTP/2 with the client preface) and plain HTTP/1.1
// (/health, /metrics), the way etcd multiplexes its client port: peek at the first bytes, then hand the
// socket to the gRPC server (grpc-server.ts) or to a node http server.
import net from 'node:net';
import http from 'node:http';
import tls from 'node:tls';
import fs from 'node:fs';
import type { GrpcServer } from './grpc-server.ts';
import { PREFACE as H2_PREFACE } from './h2/connection.ts';

export interface Listener { url: string; port: number; close(): Promise<void> }

/** Certificate files as etcd's --cert-file/--key-file/--trusted-ca-file/--client-cert-auth name them. */
export interface TlsFiles { certFile: string; keyFile: string; trustedCaFile?: string; clientCertAuth?: boolean }

/** Parse http(s)://host:port. */
export function parseUrl(u: string): { host: string; port: number; secure: boolean } {
  let url: URL;
  try { url = new URL(u); } catch { throw new Error(`invalid URL "${u}"`); }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`unsupported scheme in "${u}": use http:// or https://`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return { host: host || '0.0.0.0', port: url.port ? Number(url.port) : 2379, secure: url.protocol === 'https:' };
}

export function tlsOptions(files: TlsFiles): tls.TlsOptions {
  const read = (f: string, what: string) => {
    try { return fs.readFileSync(f); } catch (err) { throw new Error(`cannot read ${what} "${f}": ${(err as Error).message}`); }
  };
  return {
    cert: read(files.certFile, 'certificate'), key: read(files.keyFile, 'key'),
    ca: files.trustedCaFile ? read(files.trustedCaFile, 'trusted CA file') : undefined,
    requestCert: !!files.clientCertAuth, rejectUnauthorized: !!files.clientCertAuth,
    ALPNProtocols: ['h2', 'http/1.1'],
  };
}

export async function listenMux(url: string, grpcServer: GrpcServer, httpHandler: http.RequestListener, tlsFiles?: TlsFiles): Promise<Listener> {
  const { host, port, secure } = parseUrl(url);
  if (secure && !tlsFiles) throw new Error(`${url}: an https:// URL needs --cert-file and --key-file`);
  const httpServer = http.createServer(httpHandler);
  const sockets = new Set<net.Socket>();
  // noDelay: small gRPC replies must not wait for Nagle + delayed ACK (tens of ms per request)
  const onConnection = (socket: net.Socket) => {
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
      // either server reads what is buffered on the socket first
      if (isH2) grpcServer.handleConnection(socket);
      else httpServer.emit('connection', socket);
      socket.resume();
    };
    socket.on('data', onData);
  };
  const server: net.Server = secure
    ? tls.createServer({ ...tlsOptions(tlsFiles!), noDelay: true } as tls.TlsOptions, (socket) => {
      // decrypted sockets go through the same sniffing (ALPN aside, the first bytes tell h2 from http/1.1)
      onConnection(socket);
    })
    : net.createServer({ noDelay: true }, onConnection);
  if (secure) server.on('tlsClientError', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  const bound = (server.address() as net.AddressInfo).port;
  return {
    url: `${secure ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    port: bound,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
