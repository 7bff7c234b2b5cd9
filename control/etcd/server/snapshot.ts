// Serialize the state machine (every retained key version, revisions and leases) and rebuild it.
import { messageType, encodeMessage, decodeMessage } from '../proto/load.ts';
import type { Store } from '../mvcc/store.ts';
import { restAfter } from '../snap/pace.ts';
import type { SnapshotWriter } from '../snap/index.ts';
import type { KeyValue } from '../mvcc/types.ts';

interface WireKv { key: Buffer; create_revision: string; mod_revision: string; version: string; value: Buffer; lease: string }
interface WireSnapshot {
  rev: string; compact_rev: string; kvs: WireKv[]; leases: Array<{ ID: string; TTL: string }>;
  members: Array<{ ID: string; name: string; peerURLs: string[]; clientURLs: string[] }>;
}

export interface SnapshotMember { ID: string; name: string; peerURLs: string[]; clientURLs: string[] }

/** The whole snapshot as its chunks, each in its own buffer (`etcdctl snapshot save` streams them). */
export function snapshotData(store: Store, members: SnapshotMember[] = []): Uint8Array[] {
  const next = snapshotChunks(store, members, false);
  const chunks: Uint8Array[] = [];
  for (let c = next(); c; c = next()) chunks.push(c);
  return chunks;
}

/** The whole snapshot in one buffer (tests). */
export function encodeSnapshot(store: Store, members: SnapshotMember[] = []): Buffer {
  return Buffer.concat(snapshotData(store, members));
}

/**
 * The same bytes, for a Raft snapshot: the state is captured when this is called (key versions are never
 * changed in place, a write adds a new version, so encoding the captured list later gives the state at the
 * call; only that one pass over the version references is synchronous). The returned writer then encodes a
 * chunk at a time into one reused buffer and hands it to the sink (the snapshot file), at a bounded share of
 * the CPU (../snap/pace.ts), so that a large keyspace is neither copied whole into memory nor encoded in one
 * go while requests wait.
 */
export function snapshotWriter(store: Store, members: SnapshotMember[] = []): SnapshotWriter {
  const next = snapshotChunks(store, members, true);
  return async (sink) => {
    for (;;) {
      const started = performance.now();
      const chunk = next();
      if (!chunk) return;
      await sink(chunk);
      await restAfter(performance.now() - started);
    }
  };
}

/** Bytes per chunk: big enough that a chunk's file write is cheap, small enough to encode between requests. */
const CHUNK_BYTES = 2 * 1024 * 1024;

/**
 * Returns next(): the snapshot's next chunk, undefined once done. With `reuse`, every chunk but an oversized
 * one shares one buffer, valid until the following call.
 */
function snapshotChunks(store: Store, members: SnapshotMember[], reuse: boolean): () => Uint8Array | undefined {
  const t = messageType('ktsetcd.StoreSnapshot');
  // The small fields through protobufjs; the key versions (nearly all of the bytes) written directly: a
  // protobuf message may carry its fields in any order, so appending more `kvs` fields is the same message.
  // protobufjs' fromObject/encode took ~0.5 s for 60k 1 KiB versions, blocking the event loop on every snapshot.
  let head: Uint8Array | undefined = encodeMessage(t, {
    rev: store.kv.rev, compact_rev: store.kv.compactRev, kvs: [],
    leases: [...store.lessor.leases.values()].map((l) => ({ ID: l.id, TTL: l.ttl })), members,
  });
  const kvs = store.kv.allVersions();
  let shared: Buffer | undefined;
  let i = 0;
  const sizes: number[] = [];
  const leases: Array<number | bigint> = [];
  return () => {
    if (head) {
      const h = head;
      head = undefined;
      return h;
    }
    if (i >= kvs.length) return undefined;
    // size the versions that fit in a chunk (at least one)
    let total = 0;
    let end = i;
    for (; end < kvs.length; end++) {
      const kv = kvs[end];
      const lease = kv.lease === '0' ? 0 : BigInt.asUintN(64, BigInt(kv.lease));
      const size = kvBodySize(kv, lease);
      const field = 1 + varintSize(size) + size;
      if (end > i && total + field > CHUNK_BYTES) break;
      sizes[end - i] = size;
      leases[end - i] = lease;
      total += field;
    }
    if (reuse && total <= CHUNK_BYTES) shared ??= Buffer.allocUnsafeSlow(CHUNK_BYTES);
    const buf = reuse && total <= CHUNK_BYTES ? shared! : Buffer.allocUnsafe(total);
    let pos = 0;
    for (let j = i; j < end; j++) {
      const kv = kvs[j];
      buf[pos++] = TAG.snapKvs;
      pos = writeVarint(buf, pos, sizes[j - i]);
      pos = writeBytesField(buf, pos, TAG.key, kv.key);
      pos = writeNumberField(buf, pos, TAG.create, kv.create_revision);
      pos = writeNumberField(buf, pos, TAG.mod, kv.mod_revision);
      pos = writeNumberField(buf, pos, TAG.version, kv.version);
      pos = writeBytesField(buf, pos, TAG.value, kv.value);
      pos = writeNumberField(buf, pos, TAG.lease, leases[j - i]);
    }
    if (pos !== total) throw new Error(`snapshot encoding: wrote ${pos} of ${total} bytes`);
    i = end;
    return buf.subarray(0, total);
  };
}

/** Replace the store's state with the snapshot's; returns the members it recorded. */
export function restoreSnapshot(store: Store, data: Uint8Array): SnapshotMember[] {
  const snap = decodeMessage<WireSnapshot>(messageType('ktsetcd.StoreSnapshot'), data);
  const kvs: KeyValue[] = snap.kvs.map((kv) => ({
    key: kv.key, create_revision: Number(kv.create_revision), mod_revision: Number(kv.mod_revision),
    version: Number(kv.version), value: kv.value, lease: kv.lease,
  }));
  store.lessor.leases.clear();
  for (const l of snap.leases) store.lessor.leases.set(l.ID, { id: l.ID, ttl: Number(l.TTL), keys: new Set() });
  store.kv.restore(Number(snap.rev), Number(snap.compact_rev), kvs);
  const latest = new Map<string, KeyValue>();
  for (const kv of kvs) latest.set(kv.key.toString('latin1'), kv); // versions come oldest first
  for (const [k, kv] of latest) {
    if (kv.version > 0 && kv.lease !== '0') store.lessor.attach(kv.lease, k);
  }
  return snap.members;
}

function varintSize(n: number | bigint): number {
  let size = 1;
  if (typeof n === 'bigint') { while (n >= 0x80n) { n >>= 7n; size++; } return size; }
  while (n >= 0x80) { n = Math.floor(n / 128); size++; }
  return size;
}

function writeVarint(buf: Buffer, pos: number, n: number | bigint): number {
  if (typeof n === 'bigint') {
    while (n >= 0x80n) { buf[pos++] = Number(n & 0x7fn) | 0x80; n >>= 7n; }
    buf[pos++] = Number(n);
    return pos;
  }
  while (n >= 0x80) { buf[pos++] = (n % 128) | 0x80; n = Math.floor(n / 128); }
  buf[pos++] = n;
  return pos;
}

/** mvccpb.KeyValue field tags (field number << 3 | wire type). */
const TAG = { key: 0x0a, create: 0x10, mod: 0x18, version: 0x20, value: 0x2a, lease: 0x30, snapKvs: 0x1a } as const;

/** Proto3 encoding of one KeyValue's fields (defaults omitted, as protobufjs does). */
function kvBodySize(kv: KeyValue, lease: number | bigint): number {
  let n = 0;
  if (kv.key.length) n += 1 + varintSize(kv.key.length) + kv.key.length;
  if (kv.create_revision) n += 1 + varintSize(kv.create_revision);
  if (kv.mod_revision) n += 1 + varintSize(kv.mod_revision);
  if (kv.version) n += 1 + varintSize(kv.version);
  if (kv.value.length) n += 1 + varintSize(kv.value.length) + kv.value.length;
  if (lease) n += 1 + varintSize(lease);
  return n;
}

function writeBytesField(buf: Buffer, pos: number, tag: number, b: Buffer): number {
  if (!b.length) return pos;
  buf[pos++] = tag;
  pos = writeVarint(buf, pos, b.length);
  b.copy(buf, pos);
  return pos + b.length;
}

function writeNumberField(buf: Buffer, pos: number, tag: number, n: number | bigint): number {
  if (!n) return pos;
  buf[pos++] = tag;
  return writeVarint(buf, pos, n);
}
