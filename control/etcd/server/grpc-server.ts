// The etcd client port's gRPC server: gRPC's HTTP/2 mapping on our own HTTP/2 connection (h2/). grpc-js's
// server and node:http2 under it spent a large share of the CPU a Put costs on their layers (call and stream
// objects, metadata, interceptors, Duplex plumbing); a member under `etcdctl check perf` is CPU-bound, so the
// client port speaks the protocol itself: one request message in, one response message (or a stream of them)
// out, then the grpc-status trailers. Service definitions (paths, codecs, streaming flags) still come from
// @grpc/proto-loader, and the handlers keep grpc-js's shapes: (call, callback) for unary methods, and for
// streaming methods a call that emits 'data', 'end' and 'cancelled' and has write, end and destroy.
// Not served: compressed messages (no etcd client compresses; answered UNIMPLEMENTED), request metadata.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { H2Connection } from './h2/connection.ts';
import type { H2Stream } from './h2/connection.ts';
import { encodeHeaders } from './h2/hpack.ts';
import type * as grpc from '@grpc/grpc-js';
import { grpcCode } from '../mvcc/errors.ts';

/** A gRPC status as handlers report it (grpc-js's ServiceError shape). */
export interface GrpcStatus { code?: number; details?: string }

export type UnaryCallback = (err: GrpcStatus | null, response?: unknown) => void;
export type UnaryHandler = (call: { request: any }, callback: UnaryCallback) => void;

/** A streaming call: request-streaming calls emit 'data' per message and 'end'; every call may emit 'cancelled'. */
export interface StreamCall<Req = any, Res = any> extends EventEmitter {
  /** The request of a server-streaming call. */
  readonly request: Req;
  readonly destroyed: boolean;
  write(message: Res): boolean;
  end(): void;
  /** End the call with the error's status (grpc-js's call.destroy(err)). */
  destroy(err?: Error & GrpcStatus): void;
}
export type StreamHandler = (call: StreamCall) => void;
export type ServiceHandlers = Record<string, UnaryHandler | StreamHandler>;

interface Method {
  requestStream: boolean;
  responseStream: boolean;
  decode: (bytes: Buffer) => unknown;
  encode: (message: any) => Buffer;
  handler: UnaryHandler | StreamHandler;
}

export interface GrpcServerOptions {
  /** Largest request message accepted; bigger ones answer RESOURCE_EXHAUSTED as grpc-go's server does. */
  maxReceiveMessageBytes: number;
}

const RESPONSE_HEADERS = { ':status': 200, 'content-type': 'application/grpc' };
const OK_TRAILERS = { 'grpc-status': '0' };
// the two header blocks every call sends, encoded once
const RESPONSE_HEADERS_BLOCK = encodeHeaders(RESPONSE_HEADERS);
const OK_TRAILERS_BLOCK = encodeHeaders(OK_TRAILERS);
const PREFIX_BYTES = 5;

/** grpc-timeout: up to 8 digits and a unit (Hours, Minutes, Seconds, milli, micro, nano); ms or undefined. */
export function parseGrpcTimeout(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!m) return undefined;
  const unitMs = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 }[m[2] as 'H'];
  return Number(m[1]) * unitMs;
}

/** Frame one message: compressed flag 0, u32 length, payload. */
export function frameMessage(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(PREFIX_BYTES + payload.byteLength);
  out[0] = 0;
  out.writeUInt32BE(payload.byteLength, 1);
  out.set(payload, PREFIX_BYTES);
  return out;
}

/** Splits a stream of DATA chunks into length-prefixed messages. */
export class MessageReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly maxBytes: number;

  constructor(maxBytes: number) { this.maxBytes = maxBytes; }

  /** The complete messages in what arrived so far; throws a GrpcStatus for a message it must refuse. */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let buf = chunk;
    if (this.pendingBytes > 0) {
      this.pending.push(chunk);
      buf = Buffer.concat(this.pending, this.pendingBytes + chunk.byteLength);
      this.pending = [];
      this.pendingBytes = 0;
    }
    let off = 0;
    while (buf.byteLength - off >= PREFIX_BYTES) {
      const compressed = buf[off];
      const length = buf.readUInt32BE(off + 1);
      if (compressed !== 0) throw status(grpcCode.UNIMPLEMENTED, 'compressed messages are not supported (send grpc-encoding identity)');
      if (length > this.maxBytes) throw status(grpcCode.RESOURCE_EXHAUSTED, `grpc: received message larger than max (${length} vs. ${this.maxBytes})`);
      if (buf.byteLength - off - PREFIX_BYTES < length) break;
      out.push(buf.subarray(off + PREFIX_BYTES, off + PREFIX_BYTES + length));
      off += PREFIX_BYTES + length;
    }
    if (off < buf.byteLength) {
      const rest = buf.subarray(off);
      this.pending.push(rest);
      this.pendingBytes = rest.byteLength;
    }
    return out;
  }

  /** Bytes of a message that has not fully arrived. */
  get partial(): number { return this.pendingBytes; }
}

function status(code: number, details: string): GrpcStatus { return { code, details }; }

/** grpc-message is percent-encoded (printable ASCII but '%' stays as it is). */
function encodeGrpcMessage(text: string): string {
  return text.replace(/[^\x20-\x24\x26-\x7e]/gu, (ch) => encodeURIComponent(ch));
}

function statusTrailers(s: GrpcStatus): Record<string, string> {
  const code = s.code ?? grpcCode.UNKNOWN;
  return code === grpcCode.OK ? OK_TRAILERS : { 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(s.details ?? '') };
}

type Trailers = Record<string, string> | Buffer;

/** A response that is headers and status only: the answer to a call that fails before any message. */
function respondTrailersOnly(stream: H2Stream, s: GrpcStatus): void {
  stream.respond({ ...RESPONSE_HEADERS, ...statusTrailers(s) }, true);
}

/** One RPC on one HTTP/2 stream: framing, status, deadline and cancellation for every kind of method. */
class Call extends EventEmitter implements StreamCall {
  request: unknown;
  private finished = false;
  private deadline: NodeJS.Timeout | undefined;
  private readonly stream: H2Stream;
  private readonly method: Method;

  constructor(stream: H2Stream, method: Method, timeoutMs: number | undefined) {
    super();
    this.stream = stream;
    this.method = method;
    if (timeoutMs !== undefined) {
      this.deadline = setTimeout(() => this.fail(status(grpcCode.DEADLINE_EXCEEDED, 'Deadline exceeded')), timeoutMs);
    }
    stream.once('close', () => {
      clearTimeout(this.deadline);
      if (!this.finished) { this.finished = true; this.emit('cancelled'); }
      this.emit('close');
    });
  }

  get destroyed(): boolean { return this.finished; }

  write(message: unknown): boolean {
    if (this.finished) return false;
    const frame = frameMessage(this.method.encode(message));
    this.sendHeaders();
    return this.stream.write(frame);
  }

  end(): void { this.finish(OK_TRAILERS_BLOCK); }

  destroy(err?: Error & GrpcStatus): void {
    this.fail(err ? { code: err.code ?? grpcCode.UNKNOWN, details: err.details ?? err.message } : status(grpcCode.CANCELLED, 'Cancelled'));
  }

  /** The unary answer: headers, the message and the OK trailers in one go. */
  reply(message: unknown): void {
    try { this.write(message); } catch (err) {
      this.fail(status(grpcCode.INTERNAL, `error serializing response: ${(err as Error).message}`));
      return;
    }
    this.finish(OK_TRAILERS_BLOCK);
  }

  /** End with an error status; before any message it is a trailers-only response. */
  fail(s: GrpcStatus): void {
    if (this.finished) return;
    if (this.stream.headersSent) this.finish(statusTrailers(s));
    else {
      this.finished = true;
      clearTimeout(this.deadline);
      respondTrailersOnly(this.stream, s);
    }
    this.emit('cancelled');
  }

  private finish(trailers: Trailers): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.deadline);
    this.sendHeaders();
    this.stream.sendTrailers(trailers);
  }

  private sendHeaders(): void {
    this.stream.respond(RESPONSE_HEADERS_BLOCK);
  }
}

export class GrpcServer {
  private readonly methods = new Map<string, Method>();
  private readonly connections = new Set<H2Connection>();
  private readonly opts: GrpcServerOptions;

  constructor(opts: GrpcServerOptions) {
    this.opts = opts;
  }

  /** Serve a service: the definition gives each method's path, codecs and streaming, handlers the behaviour. */
  addService(definition: grpc.ServiceDefinition, handlers: ServiceHandlers): void {
    for (const [name, def] of Object.entries(definition)) {
      const handler = handlers[name];
      if (!handler) continue;
      this.methods.set(def.path, {
        requestStream: def.requestStream, responseStream: def.responseStream,
        decode: def.requestDeserialize, encode: def.responseSerialize as (m: unknown) => Buffer, handler,
      });
    }
  }

  /** Take over a connection whose first bytes are the HTTP/2 client preface (already unshifted onto it). */
  handleConnection(socket: Duplex): void {
    const conn = new H2Connection(socket, { onStream: (stream) => this.onStream(stream) });
    this.connections.add(conn);
    conn.once('close', () => this.connections.delete(conn));
  }

  /** Close every connection (their calls are cancelled). */
  close(): void {
    for (const c of this.connections) c.destroy();
    this.connections.clear();
  }

  private onStream(stream: H2Stream): void {
    const headers = stream.headers;
    const path = headers[':path'] ?? '';
    const method = this.methods.get(path);
    const contentType = headers['content-type'];
    if (typeof contentType !== 'string' || !contentType.startsWith('application/grpc')) {
      stream.respond({ ':status': 415 }, true);
      return;
    }
    if (!method) {
      respondTrailersOnly(stream, status(grpcCode.UNIMPLEMENTED, `unknown method ${path}`));
      return;
    }
    const call = new Call(stream, method, parseGrpcTimeout(headers['grpc-timeout']));
    const reader = new MessageReader(this.opts.maxReceiveMessageBytes);
    let received = 0;
    const decode = (bytes: Buffer): unknown => {
      try { return method.decode(bytes); } catch (err) {
        throw status(grpcCode.INTERNAL, `error deserializing request: ${(err as Error).message}`);
      }
    };
    const onMessage = method.requestStream
      ? (bytes: Buffer) => { call.emit('data', decode(bytes)); }
      // one request message, then the client half-closes
      : (bytes: Buffer) => {
        if (++received > 1) throw status(grpcCode.UNIMPLEMENTED, `received a second request message for ${path}`);
        call.request = decode(bytes);
      };
    stream.on('data', (chunk: Buffer) => {
      if (call.destroyed) return;
      try {
        for (const bytes of reader.push(chunk)) onMessage(bytes);
      } catch (err) { call.fail(err as GrpcStatus); }
    });
    if (method.requestStream) {
      this.invoke(call, () => (method.handler as StreamHandler)(call));
      stream.once('end', () => { if (!call.destroyed) call.emit('end'); });
      return;
    }
    stream.once('end', () => {
      if (call.destroyed) return;
      if (received !== 1 || reader.partial > 0) {
        call.fail(status(grpcCode.UNIMPLEMENTED, `expected one request message for ${path}, got ${received}`));
        return;
      }
      if (method.responseStream) { this.invoke(call, () => (method.handler as StreamHandler)(call)); return; }
      this.invoke(call, () => (method.handler as UnaryHandler)(call as { request: unknown }, (err, response) => {
        if (err) call.fail(err);
        else call.reply(response);
      }));
    });
  }

  /** A handler that throws is a bug on our side: the call answers INTERNAL, the server keeps serving. */
  private invoke(call: Call, run: () => void): void {
    try { run(); } catch (err) { call.fail(status(grpcCode.INTERNAL, `etcdserver: ${(err as Error).message}`)); }
  }
}
