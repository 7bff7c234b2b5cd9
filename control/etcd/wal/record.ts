// WAL record framing and payload codecs.
//
// Every record is  [u32 n][u32 ~n][u32 crc32(type, payload)][u8 type][payload: n bytes]  (little endian).
// The complemented length lets a reader tell a damaged length field from a record cut short by a crash, and
// the CRC covers type and payload. Numbers (terms, indexes) are u64 written as two u32 halves.
import { crc32 } from 'node:zlib';
import type { Entry, EntryType, HardState } from '../raft/index.ts';

export const HEADER_SIZE = 13;

export const RecordType = {
  /** Opaque metadata given at creation (e.g. member and cluster ids); first record of every segment. */
  Metadata: 1,
  Entry: 2,
  HardState: 3,
  /** The WAL position of a snapshot: entries up to index are covered by a snapshot file. */
  Snapshot: 4,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

const KNOWN_TYPES = new Set<number>(Object.values(RecordType));

export interface SnapshotMarker {
  index: number;
  term: number;
}

function putU64(buf: Buffer, off: number, v: number): void {
  buf.writeUInt32LE(v >>> 0, off);
  buf.writeUInt32LE(Math.floor(v / 0x1_0000_0000) >>> 0, off + 4);
}

function getU64(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off) + buf.readUInt32LE(off + 4) * 0x1_0000_0000;
}

/** Frame one record: header, type and payload in one buffer. */
export function frame(type: RecordType, payload: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(HEADER_SIZE + payload.byteLength);
  buf.writeUInt32LE(payload.byteLength, 0);
  buf.writeUInt32LE(~payload.byteLength >>> 0, 4);
  buf.writeUInt8(type, 12);
  buf.set(payload, HEADER_SIZE);
  buf.writeUInt32LE(crc32(buf.subarray(12)), 8);
  return buf;
}

export function encodeEntry(e: Entry): Buffer {
  const buf = Buffer.allocUnsafe(HEADER_SIZE + 17 + e.data.byteLength);
  writeEntryRecord(buf, 0, e);
  return buf;
}

/** Header fields of a record whose payload (n bytes) is already at off + HEADER_SIZE; returns its end. */
function sealRecord(buf: Buffer, off: number, type: RecordType, n: number): number {
  buf.writeUInt32LE(n, off);
  buf.writeUInt32LE(~n >>> 0, off + 4);
  buf[off + 12] = type;
  const end = off + HEADER_SIZE + n;
  buf.writeUInt32LE(crc32(buf.subarray(off + 12, end)), off + 8);
  return end;
}

/** Write an entry record at off (HEADER_SIZE + 17 + data bytes); returns its end. */
function writeEntryRecord(buf: Buffer, off: number, e: Entry): number {
  const p = off + HEADER_SIZE;
  putU64(buf, p, e.term);
  putU64(buf, p + 8, e.index);
  buf[p + 16] = e.type === 'ConfChange' ? 1 : 0;
  buf.set(e.data, p + 17);
  return sealRecord(buf, off, RecordType.Entry, 17 + e.data.byteLength);
}

/**
 * Entry records followed by a HardState record (if given), framed in place in one buffer: what one Ready
 * appends, with each entry's data copied once.
 */
export function encodeRecords(entries: Entry[], hardState: HardState | undefined): Buffer {
  let total = hardState ? HEADER_SIZE + 24 : 0;
  for (const e of entries) total += HEADER_SIZE + 17 + e.data.byteLength;
  const buf = Buffer.allocUnsafe(total);
  let off = 0;
  for (const e of entries) off = writeEntryRecord(buf, off, e);
  if (hardState) {
    const p = off + HEADER_SIZE;
    putU64(buf, p, hardState.term);
    putU64(buf, p + 8, hardState.vote);
    putU64(buf, p + 16, hardState.commit);
    off = sealRecord(buf, off, RecordType.HardState, 24);
  }
  return buf;
}

export function decodeEntry(p: Buffer): Entry {
  if (p.byteLength < 17) throw new Error(`entry record is ${p.byteLength} bytes, needs at least 17`);
  const t = p.readUInt8(16);
  if (t > 1) throw new Error(`entry record has unknown entry type ${t}`);
  const type: EntryType = t === 1 ? 'ConfChange' : 'Normal';
  // Copy the data out so the entry does not pin the whole segment buffer.
  return { term: getU64(p, 0), index: getU64(p, 8), type, data: Uint8Array.prototype.slice.call(p, 17) };
}

export function encodeHardState(hs: HardState): Buffer {
  const p = Buffer.allocUnsafe(24);
  putU64(p, 0, hs.term);
  putU64(p, 8, hs.vote);
  putU64(p, 16, hs.commit);
  return frame(RecordType.HardState, p);
}

export function decodeHardState(p: Buffer): HardState {
  if (p.byteLength !== 24) throw new Error(`hard state record is ${p.byteLength} bytes, expected 24`);
  return { term: getU64(p, 0), vote: getU64(p, 8), commit: getU64(p, 16) };
}

export function encodeSnapshotMarker(s: SnapshotMarker): Buffer {
  const p = Buffer.allocUnsafe(16);
  putU64(p, 0, s.index);
  putU64(p, 8, s.term);
  return frame(RecordType.Snapshot, p);
}

export function decodeSnapshotMarker(p: Buffer): SnapshotMarker {
  if (p.byteLength !== 16) throw new Error(`snapshot record is ${p.byteLength} bytes, expected 16`);
  return { index: getU64(p, 0), term: getU64(p, 8) };
}

export type ScanResult =
  | { kind: 'record'; type: RecordType; payload: Buffer; next: number }
  | { kind: 'end' }
  /** Damage that a crash in the middle of an append can produce: only acceptable at the very end. */
  | { kind: 'torn'; reason: string }
  /** Damage that no crash produces: a flipped bit, an overwritten or foreign file. */
  | { kind: 'corrupt'; reason: string };

function allZero(buf: Buffer, from: number): boolean {
  return allZeroRange(buf, from, buf.byteLength);
}

function allZeroRange(buf: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (buf[i] !== 0) return false;
  return true;
}

const SECTOR = 512;

/** Does [from, to) contain a whole, sector-aligned run of zeros (a sector a crash left unwritten)? */
function hasZeroSector(buf: Buffer, from: number, to: number): boolean {
  for (let s = Math.ceil(from / SECTOR) * SECTOR; s + SECTOR <= to; s += SECTOR) {
    if (allZeroRange(buf, s, s + SECTOR)) return true;
  }
  return false;
}

/** Read the record at `off`, classifying any damage as torn (crash) or corrupt. */
export function scan(buf: Buffer, off: number): ScanResult {
  const left = buf.byteLength - off;
  if (left === 0) return { kind: 'end' };
  // A file extended by the kernel but never written holds zeros: an append that did not reach the disk.
  if (allZero(buf, off)) return { kind: 'torn', reason: `${left} zero bytes where a record should start` };
  if (left < HEADER_SIZE) return { kind: 'torn', reason: `${left} bytes, shorter than a record header` };
  // A header in a sector that never reached the disk reads as zeros; what follows is from the same unsynced write.
  if (allZeroRange(buf, off, off + HEADER_SIZE)) return { kind: 'torn', reason: 'record header is all zeros' };
  const n = buf.readUInt32LE(off);
  if ((~n >>> 0) !== buf.readUInt32LE(off + 4)) return { kind: 'corrupt', reason: 'record length field is damaged' };
  if (n > left - HEADER_SIZE) {
    return { kind: 'torn', reason: `record of ${n} bytes is cut short at ${left - HEADER_SIZE} bytes` };
  }
  const end = off + HEADER_SIZE + n;
  const want = buf.readUInt32LE(off + 8);
  const got = crc32(buf.subarray(off + 12, end));
  if (want !== got) {
    // Only the last record can be half-written; a bad CRC with records after it is real corruption.
    const reason = `CRC mismatch (stored ${want.toString(16)}, computed ${got.toString(16)})`;
    // Torn: nothing valid follows, or a whole disk sector inside the record was never written (zeros). Records
    // after a torn one belong to the same unacknowledged write, so dropping them loses nothing acknowledged.
    const torn = end === buf.byteLength || allZero(buf, end) || hasZeroSector(buf, off, end);
    return torn ? { kind: 'torn', reason } : { kind: 'corrupt', reason };
  }
  const type = buf.readUInt8(off + 12);
  if (!KNOWN_TYPES.has(type)) return { kind: 'corrupt', reason: `unknown record type ${type}` };
  return { kind: 'record', type: type as RecordType, payload: buf.subarray(off + HEADER_SIZE, end), next: end };
}
