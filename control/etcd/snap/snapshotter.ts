// Snapshot files: the application's state at a Raft index plus the Raft metadata (index, term, membership).
//
//   const snaps = new Snapshotter(dir);
//   await snaps.save(snapshot);              // atomic: temp file, fsync, rename, fsync dir
//   await snaps.saveFrom(metadata, writer);  // the same, with the data written chunk by chunk
//   await snaps.loadAt(term, index);         // read a saved snapshot back (to send it to a lagging member)
//   const { snapshot, warnings } = await snaps.loadNewest(replayedMarkers); // on restart
//
// File: <term>-<index>.snap (16 hex digits each), holding
//   "KTSSNAP1" | u32 crc32(rest) | u32 metadata length | metadata JSON | application data
// A file that fails the checksum or does not parse is refused with SnapCorruptError naming it.
import { crc32 } from 'node:zlib';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Snapshot, SnapshotMetadata } from '../raft/index.ts';

const MAGIC = Buffer.from('KTSSNAP1');
const NAME_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;

export class SnapCorruptError extends Error {
  readonly file: string;
  constructor(file: string, reason: string) {
    super(`snap: ${file} is unusable: ${reason}`);
    this.name = 'SnapCorruptError';
    this.file = file;
  }
}

export function snapshotFileName(term: number, index: number): string {
  return `${term.toString(16).padStart(16, '0')}-${index.toString(16).padStart(16, '0')}.snap`;
}

/** The file's bytes before the application data: magic, CRC (0 until filled in), metadata length, metadata. */
function fileHead(metadata: SnapshotMetadata): Buffer {
  const meta = Buffer.from(JSON.stringify(metadata));
  const head = Buffer.alloc(CRC_END + 4 + meta.byteLength);
  MAGIC.copy(head, 0);
  head.writeUInt32LE(meta.byteLength, CRC_END);
  meta.copy(head, CRC_END + 4);
  return head;
}
/** The CRC covers everything after it. */
const CRC_END = MAGIC.byteLength + 4;

export function encodeSnapshot(s: Snapshot): Buffer {
  const head = fileHead(s.metadata);
  head.writeUInt32LE(crc32(s.data, crc32(head.subarray(CRC_END))), MAGIC.byteLength);
  return Buffer.concat([head, s.data]);
}

/**
 * Receives a snapshot's application data in order, a chunk at a time; the writer may reuse a chunk's memory
 * once the promise resolves.
 */
export type SnapshotSink = (chunk: Uint8Array) => Promise<void>;
/** Produces a snapshot's application data into a sink (a state machine's snapshot, or bytes in memory). */
export type SnapshotWriter = (sink: SnapshotSink) => Promise<void>;

/** Bytes already in memory, in slices, so that no single checksum call holds the event loop for long. */
function writeBytes(data: Uint8Array): SnapshotWriter {
  return async (sink) => {
    for (let off = 0; off < data.byteLength; off += SLICE_BYTES) await sink(data.subarray(off, off + SLICE_BYTES));
  };
}
const SLICE_BYTES = 4 * 1024 * 1024;

/** Write all of buf at pos (a short write continues where it stopped). */
async function writeAll(f: FileHandle, buf: Uint8Array, pos: number): Promise<void> {
  for (let done = 0; done < buf.byteLength;) {
    done += (await f.write(buf, done, buf.byteLength - done, pos + done)).bytesWritten;
  }
}

function isNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function checkMetadata(m: unknown): SnapshotMetadata {
  const o = m as Partial<SnapshotMetadata> | null;
  if (!o || !isNonNegInt(o.index) || !isNonNegInt(o.term)) throw new Error('metadata needs integer index and term');
  const cs = o.confState;
  if (!cs || !Array.isArray(cs.voters) || !Array.isArray(cs.learners) ||
    ![...cs.voters, ...cs.learners].every(isNonNegInt)) {
    throw new Error('metadata confState needs voters and learners lists of member ids');
  }
  return { index: o.index, term: o.term, confState: { voters: [...cs.voters], learners: [...cs.learners] } };
}

/** Decode a snapshot file's bytes; `file` names it in errors. */
export function decodeSnapshot(buf: Buffer, file: string): Snapshot {
  if (buf.byteLength < MAGIC.byteLength + 8) throw new SnapCorruptError(file, `only ${buf.byteLength} bytes`);
  if (!buf.subarray(0, MAGIC.byteLength).equals(MAGIC)) throw new SnapCorruptError(file, 'not a kts snapshot (bad magic)');
  const want = buf.readUInt32LE(MAGIC.byteLength);
  const body = buf.subarray(MAGIC.byteLength + 4);
  const got = crc32(body);
  if (want !== got) {
    throw new SnapCorruptError(file, `checksum mismatch (stored ${want.toString(16)}, computed ${got.toString(16)})`);
  }
  const metaLen = body.readUInt32LE(0);
  if (4 + metaLen > body.byteLength) throw new SnapCorruptError(file, 'metadata length exceeds the file');
  let metadata: SnapshotMetadata;
  try {
    metadata = checkMetadata(JSON.parse(body.subarray(4, 4 + metaLen).toString()));
  } catch (err) {
    throw new SnapCorruptError(file, `bad metadata: ${(err as Error).message}`);
  }
  return { metadata, data: Uint8Array.prototype.slice.call(body, 4 + metaLen) };
}

export class Snapshotter {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
  }

  /** Write the snapshot atomically; resolves with its path once it is durable. */
  save(s: Snapshot): Promise<string> {
    return this.saveFrom(s.metadata, writeBytes(s.data));
  }

  /**
   * Write a snapshot whose data comes from `write`, chunk by chunk, atomically: temp file, checksum written
   * last into its place in the head, fsync, rename, fsync dir. The data is never held in memory as a whole.
   */
  async saveFrom(metadata: SnapshotMetadata, write: SnapshotWriter): Promise<string> {
    if (metadata.index === 0) throw new Error('snap: refusing to save an empty snapshot (index 0)');
    await mkdir(this.dir, { recursive: true });
    const path = join(this.dir, snapshotFileName(metadata.term, metadata.index));
    const tmp = `${path}.tmp`;
    const f = await open(tmp, 'w');
    try {
      const head = fileHead(metadata);
      let crc = crc32(head.subarray(CRC_END));
      let pos = head.byteLength;
      await writeAll(f, head, 0);
      await write(async (chunk) => {
        crc = crc32(chunk, crc);
        await writeAll(f, chunk, pos);
        pos += chunk.byteLength;
      });
      const crcBytes = Buffer.allocUnsafe(4);
      crcBytes.writeUInt32LE(crc, 0);
      await writeAll(f, crcBytes, MAGIC.byteLength);
      await f.sync();
    } finally {
      await f.close();
    }
    await rename(tmp, path);
    const d = await open(this.dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
    return path;
  }

  /** The snapshot saved at (term, index), read back from its file. Throws if it is gone or damaged. */
  loadAt(term: number, index: number): Promise<Snapshot> {
    return this.load(join(this.dir, snapshotFileName(term, index)));
  }

  /** Load one snapshot file. Throws SnapCorruptError if it is damaged. */
  async load(path: string): Promise<Snapshot> {
    const s = decodeSnapshot(await readFile(path), path);
    const m = NAME_RE.exec(path.slice(path.lastIndexOf('/') + 1));
    if (m && (parseInt(m[1], 16) !== s.metadata.term || parseInt(m[2], 16) !== s.metadata.index)) {
      throw new SnapCorruptError(path, `file name says ${m[1]}-${m[2]} but metadata says term ${s.metadata.term} index ${s.metadata.index}`);
    }
    return s;
  }

  /** Snapshot file names, newest (highest index) first. */
  async list(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const parsed = names.flatMap((n) => {
      const m = NAME_RE.exec(n);
      return m ? [{ n, term: parseInt(m[1], 16), index: parseInt(m[2], 16) }] : [];
    });
    return parsed.sort((a, b) => b.index - a.index || b.term - a.term).map((p) => p.n);
  }

  /**
   * The newest usable snapshot. With `walMarkers` (Replay.snapshots), only snapshots the WAL knows about are
   * considered, so the WAL can replay from them. Damaged files are skipped and reported in warnings.
   */
  async loadNewest(walMarkers?: Array<{ index: number; term: number }>): Promise<{ snapshot?: Snapshot; warnings: string[] }> {
    const warnings: string[] = [];
    for (const name of await this.list()) {
      const path = join(this.dir, name);
      try {
        const s = await this.load(path);
        if (walMarkers && !walMarkers.some((m) => m.index === s.metadata.index && m.term === s.metadata.term)) {
          warnings.push(`snap: ${path} has no matching WAL snapshot record, skipped`);
          continue;
        }
        return { snapshot: s, warnings };
      } catch (err) {
        if (!(err instanceof SnapCorruptError)) throw err;
        warnings.push(`${err.message}, skipped`);
      }
    }
    return { warnings };
  }

  /** Delete all but the newest `keep` snapshot files (and leftover temp files). Returns the deleted names. */
  async purge(keep: number): Promise<string[]> {
    const names = await this.list();
    const drop = names.slice(Math.max(keep, 1));
    for (const n of drop) await rm(join(this.dir, n), { force: true });
    for (const n of await readdir(this.dir)) if (n.endsWith('.snap.tmp')) await rm(join(this.dir, n), { force: true });
    return drop;
  }
}
