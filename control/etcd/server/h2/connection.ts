// The server side of one HTTP/2 connection (RFC 9113), as much as a gRPC server needs: streams opened by
// the client, HEADERS/CONTINUATION (HPACK), DATA with flow control both ways, SETTINGS, PING, WINDOW_UPDATE,
// RST_STREAM and GOAWAY. No server push, no priorities (ignored), no HTTP/1.1 upgrade. Frames produced in one
// event-loop turn leave in one socket write.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { HpackDecoder, HpackError, encodeHeaders } from './hpack.ts';
import type { HeaderList } from './hpack.ts';

/** What every HTTP/2 client sends first. */
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const FRAME_HEADER = 9;
const Type = { DATA: 0, HEADERS: 1, PRIORITY: 2, RST_STREAM: 3, SETTINGS: 4, PUSH_PROMISE: 5, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;
const ErrorCode = {
  NO_ERROR: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2, FLOW_CONTROL_ERROR: 3, STREAM_CLOSED: 5, FRAME_SIZE_ERROR: 6,
  REFUSED_STREAM: 7, CANCEL: 8, COMPRESSION_ERROR: 9,
} as const;
type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const DEFAULT_WINDOW = 65_535;
const MAX_WINDOW = 2 ** 31 - 1;
/** What we let a client send before it must wait for our WINDOW_UPDATE, per stream and per connection. */
const RECEIVE_WINDOW = 4 * 1024 * 1024;
/** Frames we accept (our SETTINGS_MAX_FRAME_SIZE is the default). */
const MAX_FRAME = 16_384;
const MAX_HEADER_LIST = 64 * 1024;

class ConnectionError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** One request stream: the client's headers and data in, our headers, data and trailers out. */
export class H2Stream extends EventEmitter {
  readonly id: number;
  readonly headers: Record<string, string>;
  /** Reset by the client (RST_STREAM) or by the connection going away before we ended it. */
  aborted = false;
  /** Nothing more can be sent (we ended it or it was reset). */
  closed = false;
  headersSent = false;
  /** The client has sent END_STREAM. */
  remoteEnded = false;
  sendWindow: number;
  receivedUnacked = 0;
  /** DATA (and then trailers) waiting for flow-control window. */
  queued: Buffer[] = [];
  queuedTrailers: Buffer | undefined;
  private readonly conn: H2Connection;

  constructor(conn: H2Connection, id: number, headers: Record<string, string>, sendWindow: number) {
    super();
    this.conn = conn;
    this.id = id;
    this.headers = headers;
    this.sendWindow = sendWindow;
  }

  /** Response headers (fields, or a block encodeHeaders made); endStream makes them the whole response. */
  respond(headers: HeaderFields | Buffer, endStream = false): void {
    if (this.closed || this.headersSent) return;
    this.headersSent = true;
    this.conn.sendHeaders(this, headerBlock(headers), endStream);
  }

  /** Queue DATA; false when it waits for the client's window. */
  write(data: Buffer): boolean {
    if (this.closed) return false;
    return this.conn.sendData(this, data);
  }

  /** End the response with trailers (fields or a block; sent after any queued DATA). */
  sendTrailers(trailers: HeaderFields | Buffer): void {
    if (this.closed) return;
    this.conn.sendTrailers(this, headerBlock(trailers));
  }
}

export interface H2ConnectionOptions {
  /** Called once per new stream, after its request headers. */
  onStream: (stream: H2Stream) => void;
}

export class H2Connection extends EventEmitter {
  private readonly socket: Duplex;
  private readonly opts: H2ConnectionOptions;
  private readonly decoder = new HpackDecoder();
  private readonly streams = new Map<number, H2Stream>();
  private input: Buffer = Buffer.alloc(0);
  private prefaceSeen = false;
  private lastStreamId = 0;
  /** A header block in progress (HEADERS without END_HEADERS, then CONTINUATION). */
  private headerBlock: { streamId: number; endStream: boolean; parts: Buffer[] } | undefined;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = MAX_FRAME;
  private connSendWindow = DEFAULT_WINDOW;
  private connReceivedUnacked = 0;
  /** Streams with DATA waiting for window, in the order they started waiting. */
  private readonly blocked = new Set<H2Stream>();
  private out: Buffer[] = [];
  private flushScheduled = false;
  private closed = false;

  constructor(socket: Duplex, opts: H2ConnectionOptions) {
    super();
    this.socket = socket;
    this.opts = opts;
    // our SETTINGS: a large per-stream window (and the connection's, raised by a WINDOW_UPDATE) so that a
    // request of a few MiB arrives without round trips
    const settings = Buffer.alloc(6);
    settings.writeUInt16BE(4, 0);
    settings.writeUInt32BE(RECEIVE_WINDOW, 2);
    this.frame(Type.SETTINGS, 0, 0, settings);
    this.frame(Type.WINDOW_UPDATE, 0, 0, u32(RECEIVE_WINDOW - DEFAULT_WINDOW));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => this.destroy());
    socket.on('close', () => this.destroy());
    socket.on('end', () => this.destroy());
  }

  /** Drop the connection; open streams are aborted. */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.streams.values()) this.abort(s);
    this.streams.clear();
    this.socket.destroy();
    this.emit('close');
  }

  // ---- reading ----

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.input = this.input.length === 0 ? chunk : Buffer.concat([this.input, chunk]);
    try {
      if (!this.prefaceSeen) {
        if (this.input.length < PREFACE.length) return;
        if (!this.input.subarray(0, PREFACE.length).equals(PREFACE)) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'bad connection preface');
        this.prefaceSeen = true;
        this.input = this.input.subarray(PREFACE.length);
      }
      let off = 0;
      while (this.input.length - off >= FRAME_HEADER) {
        const length = this.input.readUIntBE(off, 3);
        if (length > MAX_FRAME) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `frame of ${length} bytes`);
        if (this.input.length - off < FRAME_HEADER + length) break;
        const type = this.input[off + 3], flags = this.input[off + 4];
        const streamId = this.input.readUInt32BE(off + 5) & 0x7fffffff;
        const payload = this.input.subarray(off + FRAME_HEADER, off + FRAME_HEADER + length);
        off += FRAME_HEADER + length;
        this.onFrame(type, flags, streamId, payload);
        if (this.closed) return;
      }
      this.input = off === this.input.length ? Buffer.alloc(0) : this.input.subarray(off);
    } catch (err) {
      const code: ErrorCode = err instanceof ConnectionError ? err.code : err instanceof HpackError ? ErrorCode.COMPRESSION_ERROR : ErrorCode.INTERNAL_ERROR;
      this.goAway(code, (err as Error).message);
    }
  }

  private onFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.headerBlock && type !== Type.CONTINUATION) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'expected CONTINUATION');
    switch (type) {
      case Type.DATA: return this.onDataFrame(flags, streamId, payload);
      case Type.HEADERS: return this.onHeaders(flags, streamId, payload);
      case Type.CONTINUATION: return this.onContinuation(flags, streamId, payload);
      case Type.SETTINGS: return this.onSettings(flags, streamId, payload);
      case Type.PING:
        if (payload.length !== 8) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'PING of wrong size');
        if (!(flags & Flag.ACK)) this.frame(Type.PING, Flag.ACK, 0, Buffer.from(payload));
        return;
      case Type.WINDOW_UPDATE: return this.onWindowUpdate(streamId, payload);
      case Type.RST_STREAM: {
        const s = this.streams.get(streamId);
        if (s) { this.streams.delete(streamId); this.blocked.delete(s); this.abort(s); }
        return;
      }
      case Type.GOAWAY: return; // the client stops opening streams; the ones it has finish
      case Type.PUSH_PROMISE: throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE from a client');
      default: return; // PRIORITY and unknown types are ignored
    }
  }

  private onHeaders(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'HEADERS on stream 0');
    let start = 0, end = payload.length;
    if (flags & Flag.PADDED) { end -= payload[0]; start = 1; }
    if (flags & Flag.PRIORITY) start += 5;
    if (start > end) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'HEADERS padding too long');
    this.headerBlock = { streamId, endStream: (flags & Flag.END_STREAM) !== 0, parts: [payload.subarray(start, end)] };
    if (flags & Flag.END_HEADERS) this.endHeaderBlock();
  }

  private onContinuation(flags: number, streamId: number, payload: Buffer): void {
    const hb = this.headerBlock;
    if (!hb || hb.streamId !== streamId) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'unexpected CONTINUATION');
    hb.parts.push(payload);
    if (hb.parts.reduce((n, p) => n + p.length, 0) > MAX_HEADER_LIST) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'header block too large');
    if (flags & Flag.END_HEADERS) this.endHeaderBlock();
  }

  private endHeaderBlock(): void {
    const hb = this.headerBlock!;
    this.headerBlock = undefined;
    // decoded even for a stream we refuse: the dynamic table must follow every block
    const list = this.decoder.decode(hb.parts.length === 1 ? hb.parts[0] : Buffer.concat(hb.parts), MAX_HEADER_LIST);
    const existing = this.streams.get(hb.streamId);
    if (existing) { // trailers from the client: only END_STREAM matters
      if (hb.endStream) this.remoteEnd(existing);
      return;
    }
    if (hb.streamId % 2 === 0 || hb.streamId <= this.lastStreamId) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `HEADERS opening stream ${hb.streamId} after ${this.lastStreamId}`);
    }
    this.lastStreamId = hb.streamId;
    const stream = new H2Stream(this, hb.streamId, headerRecord(list), this.peerInitialWindow);
    this.streams.set(stream.id, stream);
    this.opts.onStream(stream);
    if (hb.endStream) this.remoteEnd(stream);
  }

  private onDataFrame(flags: number, streamId: number, payload: Buffer): void {
    // flow control counts the whole payload, padding included
    this.connReceivedUnacked += payload.length;
    if (this.connReceivedUnacked >= RECEIVE_WINDOW / 2) {
      this.frame(Type.WINDOW_UPDATE, 0, 0, u32(this.connReceivedUnacked));
      this.connReceivedUnacked = 0;
    }
    let data = payload;
    if (flags & Flag.PADDED) {
      const pad = payload[0];
      if (pad >= payload.length) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'DATA padding too long');
      data = payload.subarray(1, payload.length - pad);
    }
    const s = this.streams.get(streamId);
    if (!s || s.remoteEnded) {
      if (streamId > this.lastStreamId || streamId === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `DATA on idle stream ${streamId}`);
      return; // a stream we already closed or reset: its data is dropped (the connection window was credited)
    }
    s.receivedUnacked += payload.length;
    if (s.receivedUnacked >= RECEIVE_WINDOW / 2 && !(flags & Flag.END_STREAM)) {
      this.frame(Type.WINDOW_UPDATE, 0, streamId, u32(s.receivedUnacked));
      s.receivedUnacked = 0;
    }
    if (data.length > 0) s.emit('data', data);
    if (flags & Flag.END_STREAM) this.remoteEnd(s);
  }

  private remoteEnd(s: H2Stream): void {
    if (s.remoteEnded) return;
    s.remoteEnded = true;
    s.emit('end');
    if (s.closed) this.streams.delete(s.id);
  }

  private onSettings(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (flags & Flag.ACK) return;
    if (payload.length % 6 !== 0) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS of wrong size');
    for (let i = 0; i < payload.length; i += 6) {
      const id = payload.readUInt16BE(i), value = payload.readUInt32BE(i + 2);
      if (id === 4) { // INITIAL_WINDOW_SIZE: applies to every open stream's send window
        if (value > MAX_WINDOW) throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'initial window too large');
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const s of this.streams.values()) s.sendWindow += delta;
      } else if (id === 5) { // MAX_FRAME_SIZE
        if (value < MAX_FRAME || value > 16_777_215) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'bad max frame size');
        this.peerMaxFrame = value;
      }
      // HEADER_TABLE_SIZE: our encoder never uses the dynamic table; the others do not concern a server
    }
    this.frame(Type.SETTINGS, Flag.ACK, 0, Buffer.alloc(0));
    this.pump();
  }

  private onWindowUpdate(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'WINDOW_UPDATE of wrong size');
    const inc = payload.readUInt32BE(0) & 0x7fffffff;
    if (streamId === 0) {
      if (inc === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
      this.connSendWindow += inc;
      if (this.connSendWindow > MAX_WINDOW) throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'connection window overflow');
    } else {
      const s = this.streams.get(streamId);
      if (!s) return;
      s.sendWindow += inc;
    }
    this.pump();
  }

  // ---- writing ----

  sendHeaders(s: H2Stream, block: Buffer, endStream: boolean): void {
    this.headerFrames(s.id, block, endStream);
    if (endStream) this.localEnd(s);
  }

  sendData(s: H2Stream, data: Buffer): boolean {
    if (s.queued.length > 0) { s.queued.push(data); return false; }
    const rest = this.dataFrames(s, data);
    if (rest) { s.queued.push(rest); this.blocked.add(s); return false; }
    return true;
  }

  sendTrailers(s: H2Stream, block: Buffer): void {
    if (s.queued.length > 0) { s.queuedTrailers = block; return; }
    this.headerFrames(s.id, block, true);
    this.localEnd(s);
  }

  /** Send as much of data as both windows allow; returns what is left. */
  private dataFrames(s: H2Stream, data: Buffer): Buffer | undefined {
    let off = 0;
    while (off < data.length) {
      const n = Math.min(data.length - off, this.peerMaxFrame, this.connSendWindow, s.sendWindow);
      if (n <= 0) return data.subarray(off);
      this.frame(Type.DATA, 0, s.id, data.subarray(off, off + n));
      this.connSendWindow -= n;
      s.sendWindow -= n;
      off += n;
    }
    if (data.length === 0) this.frame(Type.DATA, 0, s.id, data);
    return undefined;
  }

  /** After a window grew: send what waited, in order. */
  private pump(): void {
    for (const s of this.blocked) {
      while (s.queued.length > 0) {
        const rest = this.dataFrames(s, s.queued[0]);
        if (rest) { s.queued[0] = rest; break; }
        s.queued.shift();
      }
      if (s.queued.length > 0) { if (this.connSendWindow <= 0) return; continue; }
      this.blocked.delete(s);
      if (s.queuedTrailers) {
        this.headerFrames(s.id, s.queuedTrailers, true);
        s.queuedTrailers = undefined;
        this.localEnd(s);
      }
      s.emit('drain');
    }
  }

  private headerFrames(id: number, block: Buffer, endStream: boolean): void {
    const es = endStream ? Flag.END_STREAM : 0;
    if (block.length <= this.peerMaxFrame) { this.frame(Type.HEADERS, es | Flag.END_HEADERS, id, block); return; }
    this.frame(Type.HEADERS, es, id, block.subarray(0, this.peerMaxFrame));
    for (let off = this.peerMaxFrame; off < block.length; off += this.peerMaxFrame) {
      const last = off + this.peerMaxFrame >= block.length;
      this.frame(Type.CONTINUATION, last ? Flag.END_HEADERS : 0, id, block.subarray(off, off + this.peerMaxFrame));
    }
  }

  private localEnd(s: H2Stream): void {
    s.closed = true;
    if (s.remoteEnded) this.streams.delete(s.id);
    s.emit('close');
  }

  private abort(s: H2Stream): void {
    if (s.closed) return;
    s.aborted = true;
    s.closed = true;
    s.emit('close');
  }

  private goAway(code: ErrorCode, message: string): void {
    const payload = Buffer.alloc(8 + Buffer.byteLength(message));
    payload.writeUInt32BE(this.lastStreamId, 0);
    payload.writeUInt32BE(code, 4);
    payload.write(message, 8);
    this.frame(Type.GOAWAY, 0, 0, payload);
    this.flush();
    this.destroy();
  }

  private frame(type: number, flags: number, streamId: number, payload: Buffer): void {
    const head = Buffer.allocUnsafe(FRAME_HEADER);
    head.writeUIntBE(payload.length, 0, 3);
    head[3] = type;
    head[4] = flags;
    head.writeUInt32BE(streamId, 5);
    this.out.push(head);
    if (payload.length > 0) this.out.push(payload);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.out.length === 0 || this.socket.destroyed) { this.out = []; return; }
    const bufs = this.out;
    this.out = [];
    // small frames are copied together (one write); large payloads go as they are
    let total = 0;
    for (const b of bufs) total += b.length;
    if (total <= 64 * 1024) this.socket.write(Buffer.concat(bufs, total));
    else { this.socket.cork(); for (const b of bufs) this.socket.write(b); this.socket.uncork(); }
  }
}

type HeaderFields = Record<string, string | number>;

function headerBlock(h: HeaderFields | Buffer): Buffer {
  return Buffer.isBuffer(h) ? h : encodeHeaders(h);
}

function u32(v: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(v >>> 0, 0);
  return b;
}

/** Request headers as a record; a repeated field keeps its values joined with ", " (cookies aside, as HTTP does). */
function headerRecord(list: HeaderList): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of list) out[name] = name in out ? `${out[name]}, ${value}` : value;
  return out;
}
