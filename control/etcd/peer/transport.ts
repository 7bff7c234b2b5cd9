// Peer transport on the member's peer URL. Raft messages go over a plain stream per peer (stream.ts): queued
// per peer and written as one length-prefixed batch per event-loop turn (while the socket is backed up, new
// messages pile up for the next batch), which keeps order and amortizes overhead under load. The lease calls
// a follower forwards to the leader and ClusterInfo stay gRPC, on the same port: the listener tells the two
// apart by a connection's first bytes. A batch from another cluster ID is refused with a clear error and
// never reaches Raft.
import net from 'node:net';
import tls from 'node:tls';
import { tlsOptions } from '../server/listen.ts';
import type { TlsFiles } from '../server/listen.ts';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { messageSize } from '../raft/codec.ts';
import { decodeBatch, encodeBatch } from './batch.ts';
import type { MessageBatch } from './batch.ts';
import { FrameReader, frameHeader, RAFT_STREAM_MAGIC } from './stream.ts';
import type { Message } from '../raft/index.ts';

const dir = path.dirname(fileURLToPath(import.meta.url));
const MAX_BATCH_BYTES = 8 * 1024 * 1024;

let peerService: grpc.ServiceClientConstructor | undefined;
/** The Peer service from peer.proto (lease calls and ClusterInfo). */
function service(): grpc.ServiceClientConstructor {
  if (!peerService) {
    const def = protoLoader.loadSync('peer.proto', { includeDirs: [dir], keepCase: true, longs: String, defaults: true });
    peerService = (grpc.loadPackageDefinition(def).ktspeer as grpc.GrpcObject).Peer as grpc.ServiceClientConstructor;
  }
  return peerService;
}

export interface PeerHandlers {
  /** A message for this member's Raft node. */
  receive(m: Message): void;
  /** Leader side of a forwarded keep-alive: TTL, or 0 when the lease is unknown. */
  leaseRenew(id: string): Promise<number>;
  /** Leader side of a forwarded time-to-live: seconds left, or -1. */
  leaseRemaining(id: string): Promise<number>;
  /** The cluster as this member knows it, for a member that is joining. */
  clusterInfo(): { members: ClusterInfoMember[] };
}

export interface ClusterInfoMember { ID: string; name: string; peerURLs: string[]; clientURLs: string[] }

export interface TransportOptions {
  clusterId: string;
  memberId: number;
  /** peer member id -> peer URL */
  peers: Map<number, string>;
  handlers: PeerHandlers;
  /** A send to `to` failed (Raft backs off that follower). */
  unreachable(to: number): void;
  /** A MsgSnap to `to` was delivered or not. */
  snapshotStatus(to: number, ok: boolean): void;
  log: (level: 'info' | 'warn' | 'error', msg: string) => void;
  /** Peer TLS (--peer-cert-file etc.): used for our listener and, as client certificate, towards peers. */
  tls?: TlsFiles;
}

/** gRPC client credentials for talking to peers: TLS with our cert when peer TLS is configured. */
export function peerCredentials(files: TlsFiles | undefined): grpc.ChannelCredentials {
  if (!files) return grpc.credentials.createInsecure();
  const o = tlsOptions(files);
  return grpc.credentials.createSsl(o.ca as Buffer | undefined ?? null, o.key as Buffer, o.cert as Buffer);
}

/** Host (without IPv6 brackets) and port of a peer URL; etcd's peer port when none is given. */
function peerAddress(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 2380) };
}

/** A gRPC target for a peer URL. */
function target(url: string): string {
  const { host, port } = peerAddress(url);
  return `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
}

/** A Raft stream connection to a peer URL: TCP, or TLS with our peer certificate when peer TLS is configured. */
function connectStream(url: string, files: TlsFiles | undefined): net.Socket {
  const { host, port } = peerAddress(url);
  if (!files) return net.connect({ host, port, noDelay: true });
  const o = tlsOptions(files);
  const socket = tls.connect({ host, port, ca: o.ca, cert: o.cert, key: o.key, servername: net.isIP(host) ? undefined : host });
  socket.setNoDelay(true);
  return socket;
}

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 1000;

class PeerQueue {
  private queue: Message[] = [];
  private readonly client: grpc.Client & Record<string, Function>;
  private readonly opts: TransportOptions;
  private readonly to: number;
  private readonly url: string;
  private failing = false;
  private socket: net.Socket | undefined;
  private blocked = false;
  private scheduled = false;
  private closed = false;
  /** After a failed connection, no new one before this time (doubling from 100 ms to 1 s, as gRPC backs off). */
  private retryAt = 0;
  private retryMs = RETRY_MIN_MS;

  constructor(to: number, url: string, opts: TransportOptions) {
    this.to = to;
    this.url = url;
    this.opts = opts;
    const Ctor = service();
    this.client = new Ctor(target(url), peerCredentials(opts.tls), {
      'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 1000, 'grpc.enable_channelz': 0,
    }) as never;
  }

  push(m: Message): void {
    this.queue.push(m);
    // Everything pushed in this turn of the event loop goes out as one batch: setImmediate runs after all the
    // I/O callbacks ready in this turn (a microtask would flush after each one: more, smaller writes on both
    // ends; at check perf l this was ~8% of the CPU per write).
    if (!this.scheduled && !this.blocked) {
      this.scheduled = true;
      setImmediate(() => { this.scheduled = false; this.flush(); });
    }
  }

  /** The stream to the peer, opened when needed; undefined while backing off after a failure. */
  private open(): net.Socket | undefined {
    if (this.socket) return this.socket;
    if (Date.now() < this.retryAt) return undefined;
    const socket = connectStream(this.url, this.opts.tls);
    let refusal = '';
    let error = '';
    socket.write(RAFT_STREAM_MAGIC);
    socket.on(this.opts.tls ? 'secureConnect' : 'connect', () => { this.retryMs = RETRY_MIN_MS; });
    // the receiver only ever writes a refusal, as one line, before it closes
    socket.on('data', (d: Buffer) => { refusal = (refusal + d.toString()).slice(0, 1000); });
    socket.on('error', (err) => { error = err.message; });
    socket.on('drain', () => { this.blocked = false; this.flush(); });
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.blocked = false;
      if (!this.closed) this.broken(refusal.trim() || error || 'connection closed');
    });
    this.socket = socket;
    return socket;
  }

  private broken(why: string): void {
    if (!this.failing) this.opts.log('warn', `peer ${this.to.toString(16)} unreachable: ${why}`);
    this.failing = true;
    this.retryAt = Date.now() + this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
    this.opts.unreachable(this.to);
  }

  private flush(): void {
    if (this.closed || this.blocked || this.queue.length === 0) return;
    const socket = this.open();
    if (!socket) {
      // backing off: Raft resends what matters once the peer answers again
      const dropped = this.queue;
      this.queue = [];
      if (dropped.some((m) => m.type === 'MsgSnap')) this.opts.snapshotStatus(this.to, false);
      this.opts.unreachable(this.to);
      return;
    }
    socket.cork();
    while (this.queue.length > 0) {
      let n = 0;
      let bytes = 0;
      const sizes: number[] = [];
      while (n < this.queue.length && (n === 0 || bytes < MAX_BATCH_BYTES)) {
        const size = messageSize(this.queue[n++]);
        sizes.push(size);
        bytes += size;
      }
      const batch = n === this.queue.length ? this.queue : this.queue.slice(0, n);
      this.queue = n === this.queue.length ? [] : this.queue.slice(n);
      const body = encodeBatch(this.opts.clusterId, String(this.opts.memberId), String(this.to), batch, sizes);
      socket.write(frameHeader(body.length));
      const ok = socket.write(body);
      // the stream gives no per-batch receipt: a snapshot counts as delivered once handed to the socket
      if (batch.some((m) => m.type === 'MsgSnap')) this.opts.snapshotStatus(this.to, true);
      if (this.failing) { this.failing = false; this.opts.log('info', `peer ${this.to.toString(16)} reachable again`); }
      if (!ok) { this.blocked = true; break; }
    }
    socket.uncork();
  }

  call(method: 'LeaseRenew' | 'LeaseRemaining', id: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.client[method]({ cluster_id: this.opts.clusterId, ID: id }, { deadline: Date.now() + 3000 },
        (err: grpc.ServiceError | null, res: { TTL: string }) => (err ? reject(err) : resolve(Number(res.TTL))));
    });
  }

  close(): void {
    this.closed = true;
    this.socket?.end();
    this.client.close();
  }
}

export class PeerTransport {
  private readonly server = new grpc.Server({
    'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1, 'grpc.enable_channelz': 0,
  });
  private readonly queues = new Map<number, PeerQueue>();
  private readonly opts: TransportOptions;
  private readonly listeners: net.Server[] = [];
  private readonly sockets = new Set<net.Socket>();

  constructor(opts: TransportOptions) {
    this.opts = opts;
    for (const [id, url] of opts.peers) if (id !== opts.memberId) this.queues.set(id, new PeerQueue(id, url, opts));
    const wrongCluster = (cid: string) => ({ code: grpc.status.FAILED_PRECONDITION, details: this.wrongClusterMessage(cid) });
    this.server.addService(service().service, {
      ClusterInfo: (_call: grpc.ServerUnaryCall<object, object>, cb: grpc.sendUnaryData<object>) => {
        cb(null, { cluster_id: opts.clusterId, members: opts.handlers.clusterInfo().members });
      },
      LeaseRenew: (call: grpc.ServerUnaryCall<{ cluster_id: string; ID: string }, object>, cb: grpc.sendUnaryData<object>) => {
        if (call.request.cluster_id !== opts.clusterId) return cb(wrongCluster(call.request.cluster_id));
        opts.handlers.leaseRenew(call.request.ID).then((TTL) => cb(null, { TTL }), (err: Error) => cb({ code: grpc.status.UNAVAILABLE, details: err.message }));
      },
      LeaseRemaining: (call: grpc.ServerUnaryCall<{ cluster_id: string; ID: string }, object>, cb: grpc.sendUnaryData<object>) => {
        if (call.request.cluster_id !== opts.clusterId) return cb(wrongCluster(call.request.cluster_id));
        opts.handlers.leaseRemaining(call.request.ID).then((TTL) => cb(null, { TTL }), (err: Error) => cb({ code: grpc.status.UNAVAILABLE, details: err.message }));
      },
    });
  }

  private wrongClusterMessage(cid: string): string {
    return `etcdserver: request from cluster ID ${BigInt(cid).toString(16)} does not match this member's cluster ID ${BigInt(this.opts.clusterId).toString(16)}`;
  }

  /** Check and deliver one batch; the refusal when it is refused (nothing of it reaches Raft then). */
  private receiveBatch(raw: Buffer): string | null {
    let b: MessageBatch;
    try { b = decodeBatch(raw); } catch (err) { return `etcdserver: malformed raft message: ${(err as Error).message}`; }
    if (b.clusterId !== this.opts.clusterId) return this.wrongClusterMessage(b.clusterId);
    if (Number(b.to) !== this.opts.memberId) return `etcdserver: message for member ${BigInt(b.to).toString(16)} sent to member ${this.opts.memberId.toString(16)}`;
    for (const m of b.messages) {
      try { this.opts.handlers.receive(m); } catch (err) { this.opts.log('warn', `raft step failed: ${(err as Error).message}`); }
    }
    return null;
  }

  /** An accepted Raft stream: frames until the sender closes; a refused batch is answered with one line, then closed. */
  private serveStream(socket: net.Socket, rest: Buffer): void {
    const reader = new FrameReader();
    const onData = (chunk: Buffer) => {
      for (const frame of reader.push(chunk)) {
        const refusal = this.receiveBatch(frame);
        if (refusal) {
          this.opts.log('warn', `refused a raft batch from ${socket.remoteAddress}: ${refusal}`);
          socket.off('data', onData);
          socket.end(`${refusal}\n`);
          return;
        }
      }
    };
    socket.on('data', onData);
    if (rest.length) onData(rest);
  }

  async listen(url: string): Promise<void> {
    // Our own listener: accepted sockets get noDelay (small batches must not wait for Nagle + delayed ACK), and
    // the first bytes say whether a connection is a Raft stream or gRPC.
    const injector = this.server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    const accept = (socket: net.Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => {});
      let head: Buffer = Buffer.alloc(0);
      const sniff = (chunk: Buffer) => {
        head = head.length ? Buffer.concat([head, chunk]) : chunk;
        const n = Math.min(head.length, RAFT_STREAM_MAGIC.length);
        const isStream = head.subarray(0, n).equals(RAFT_STREAM_MAGIC.subarray(0, n));
        if (isStream && head.length < RAFT_STREAM_MAGIC.length) return; // need more bytes to decide
        socket.off('data', sniff);
        if (isStream) { this.serveStream(socket, head.subarray(RAFT_STREAM_MAGIC.length)); return; }
        socket.pause();
        socket.unshift(head);
        injector.injectConnection(socket);
      };
      socket.on('data', sniff);
    };
    if (url.startsWith('https:') && !this.opts.tls) throw new Error(`${url}: an https:// peer URL needs --peer-cert-file and --peer-key-file`);
    const listener: net.Server = this.opts.tls
      ? tls.createServer({ ...tlsOptions(this.opts.tls), ALPNProtocols: ['h2'], noDelay: true } as tls.TlsOptions, accept)
      : net.createServer({ noDelay: true }, accept);
    if (this.opts.tls) listener.on('tlsClientError', (err) => this.opts.log('warn', `peer TLS handshake failed: ${err.message}`));
    const { host, port } = peerAddress(url);
    await new Promise<void>((resolve, reject) => {
      listener.once('error', (err) => reject(new Error(`listen on peer URL ${url}: ${err.message}`)));
      listener.listen(port, host, () => resolve());
    });
    this.listeners.push(listener);
  }

  /** A member joined (conf change applied): start talking to it. */
  addPeer(id: number, url: string): void {
    if (id === this.opts.memberId || this.queues.has(id)) return;
    this.queues.set(id, new PeerQueue(id, url, this.opts));
  }

  /** A member left: stop talking to it. */
  removePeer(id: number): void {
    this.queues.get(id)?.close();
    this.queues.delete(id);
  }

  send(messages: Message[]): void {
    for (const m of messages) {
      const q = this.queues.get(m.to);
      if (q) q.push(m);
      else this.opts.log('warn', `dropping message to unknown member ${m.to.toString(16)}`);
    }
  }

  leaseRenew(leader: number, id: string): Promise<number> {
    const q = this.queues.get(leader);
    return q ? q.call('LeaseRenew', id) : Promise.reject(new Error('no route to leader'));
  }

  leaseRemaining(leader: number, id: string): Promise<number> {
    const q = this.queues.get(leader);
    return q ? q.call('LeaseRemaining', id) : Promise.reject(new Error('no route to leader'));
  }

  close(): void {
    for (const q of this.queues.values()) q.close();
    for (const l of this.listeners) l.close();
    for (const s of this.sockets) s.destroy();
    this.server.forceShutdown();
  }
}

/** Ask a member of an existing cluster for its cluster ID and members (used before joining it). */
export function fetchClusterInfo(peerUrl: string, timeoutMs = 3000, tlsFiles?: TlsFiles): Promise<{ clusterId: string; members: ClusterInfoMember[] }> {
  const Ctor = service();
  const client = new Ctor(target(peerUrl), peerCredentials(tlsFiles)) as grpc.Client & Record<string, Function>;
  return new Promise((resolve, reject) => {
    client.ClusterInfo({}, { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, res: { cluster_id: string; members: ClusterInfoMember[] }) => {
      client.close();
      if (err) reject(new Error(`${peerUrl}: ${err.details || err.message}`));
      else resolve({ clusterId: res.cluster_id, members: res.members.map((m) => ({ ...m, ID: String(m.ID) })) });
    });
  });
}
