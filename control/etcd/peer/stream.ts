// The Raft stream between members: a plain TCP (or TLS) connection on the peer port that starts with a magic
// and then carries length-prefixed MessageBatch frames, one way. gRPC's HTTP/2 framing, flow control and stream
// machinery cost CPU on both ends of every batch, and the stream needs none of it: the receiver has nothing to
// answer except a refusal (another cluster, a malformed batch), which it writes as one text line before
// closing. The peer listener tells this stream from gRPC by its first bytes.

/** What a Raft stream connection sends first (an HTTP/2 client sends "PRI * HTTP/2.0..."). */
export const RAFT_STREAM_MAGIC = Buffer.from('KTSRAFT1');

/** Largest frame a receiver accepts: a Raft snapshot travels as one batch. */
export const MAX_FRAME_BYTES = 2 ** 32 - 1;

/** The 4-byte big-endian length that precedes each frame. */
export function frameHeader(length: number): Buffer {
  if (length > MAX_FRAME_BYTES) throw new Error(`raft stream: a frame of ${length} bytes is over the ${MAX_FRAME_BYTES}-byte limit`);
  const h = Buffer.allocUnsafe(4);
  h.writeUInt32BE(length, 0);
  return h;
}

/** Cuts a byte stream into frames; chunks are kept until a frame is whole, then joined once. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private need = -1; // length of the frame being read; -1 while its header is incomplete

  /** Feed received bytes; returns the frames completed by them, in order. */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Buffer[] = [];
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < 4) break;
        this.need = this.take(4, false).readUInt32BE(0);
      }
      if (this.buffered < this.need) break;
      frames.push(this.take(this.need, true));
      this.need = -1;
    }
    return frames;
  }

  /**
   * The next n bytes. `own`: the result must not share memory with the rest of a received chunk (decoded
   * entries are views into the frame, and a small value must not keep a whole 64 KiB read alive).
   */
  private take(n: number, own: boolean): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    let out: Buffer;
    const wholeAllocation = first.byteOffset === 0 && first.buffer.byteLength === first.length;
    if (first.length === n && (!own || wholeAllocation)) {
      out = first;
      this.chunks.shift();
    } else if (first.length > n && !own) {
      out = first.subarray(0, n);
      this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafeSlow(n);
      let at = 0;
      while (at < n) {
        const c = this.chunks[0]!;
        const used = Math.min(c.length, n - at);
        c.copy(out, at, 0, used);
        at += used;
        if (used === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(used);
      }
    }
    this.buffered -= n;
    return out;
  }
}
