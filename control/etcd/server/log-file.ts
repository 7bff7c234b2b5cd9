// An append-only record file for a single member: each record is [length u32][crc32 u32][payload], written
// in batches with one fdatasync per batch (group commit). On open, a torn tail (crash mid-write) is cut off
// with a warning; a bad checksum followed by more valid-looking data refuses to start, naming file and offset.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import zlib from 'node:zlib';

const HEADER = 8;

export class LogFileCorruptError extends Error {
  constructor(file: string, offset: number, why: string) {
    super(`${file}: corrupt record at offset ${offset}: ${why}`);
    this.name = 'LogFileCorruptError';
  }
}

export class LogFile {
  private fd = -1;
  private size = 0;
  readonly file: string;
  constructor(file: string) { this.file = file; }

  /** Read every intact record, truncate a torn tail, and open for appending. */
  async open(onRecord: (payload: Buffer) => void, warn: (msg: string) => void = () => {}): Promise<number> {
    let buf: Buffer;
    try { buf = await fsp.readFile(this.file); } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      buf = Buffer.alloc(0);
    }
    let off = 0, count = 0;
    while (off < buf.length) {
      if (buf.length - off < HEADER) { warn(`${this.file}: torn record header at offset ${off}, truncating`); break; }
      const len = buf.readUInt32LE(off);
      const crc = buf.readUInt32LE(off + 4);
      if (off + HEADER + len > buf.length) { warn(`${this.file}: torn record at offset ${off}, truncating`); break; }
      const payload = buf.subarray(off + HEADER, off + HEADER + len);
      if (zlib.crc32(payload) !== crc) {
        // a bad checksum on the last record is a torn write; anywhere else the file is damaged
        if (off + HEADER + len === buf.length) { warn(`${this.file}: bad checksum on last record at offset ${off}, truncating`); break; }
        throw new LogFileCorruptError(this.file, off, 'checksum mismatch');
      }
      onRecord(payload);
      off += HEADER + len;
      count++;
    }
    this.fd = fs.openSync(this.file, fs.existsSync(this.file) ? 'r+' : 'w+');
    if (off < buf.length) { fs.ftruncateSync(this.fd, off); fs.fsyncSync(this.fd); }
    this.size = off;
    return count;
  }

  /** Append records and make them durable before resolving. */
  async append(payloads: Uint8Array[]): Promise<void> {
    let total = 0;
    for (const p of payloads) total += HEADER + p.byteLength;
    const out = Buffer.allocUnsafe(total);
    let off = 0;
    for (const p of payloads) {
      out.writeUInt32LE(p.byteLength, off);
      out.writeUInt32LE(zlib.crc32(p), off + 4);
      out.set(p, off + HEADER);
      off += HEADER + p.byteLength;
    }
    await writeAll(this.fd, out, this.size);
    this.size += total;
    await new Promise<void>((resolve, reject) => fs.fdatasync(this.fd, (err) => (err ? reject(err) : resolve())));
  }

  get bytes(): number { return this.size; }

  close(): void {
    if (this.fd >= 0) { fs.closeSync(this.fd); this.fd = -1; }
  }
}

function writeAll(fd: number, buf: Buffer, position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (off: number) => {
      fs.write(fd, buf, off, buf.length - off, position + off, (err, n) => {
        if (err) return reject(err);
        if (off + n < buf.length) step(off + n); else resolve();
      });
    };
    step(0);
  });
}
